"""Write lessons/exercises/ from these solutions: every block between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``raise NotImplementedError`` (the ``# TODO`` comment above it stays).

    python lessons/solutions/make_exercises.py          (tests/test_exercises.py checks they agree)
"""
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXERCISES = HERE.parent / "exercises"
STUB = re.compile(r"^[ \t]*raise NotImplementedError$", re.M)
BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n", re.M | re.S)


def strip(source):
    """The exercise text for one solution file."""
    return BLOCK.sub(lambda m: f"{m.group(1)}raise NotImplementedError\n", source)


def main():
    for path in sorted(HERE.glob("ex[0-9][0-9]_*.py")):
        text = strip(path.read_text())
        (EXERCISES / path.name).write_text(text)
        todos = len(STUB.findall(text))
        print(f"{EXERCISES / path.name}: {todos} TODOs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

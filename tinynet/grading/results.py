"""What grading a file gives: ``FileResult`` (the file, its exercise, a ``PartResult`` per part, a
file-level problem) and the printed report. Text from the student's side is printed on one line."""
from dataclasses import dataclass, field


@dataclass
class PartResult:
    title: str
    status: str                        # "pass", "fail" or "todo" (not written yet: a fail)
    reason: str = ""                   # one line: what went wrong
    hint: str = ""


@dataclass
class FileResult:
    path: str
    exercise: object = None            # the Exercise, or None when the file could not be graded
    parts: list = field(default_factory=list)
    problem: str = ""                  # why the whole file failed, if it did
    seconds: float = 0.0
    seed: int = 0
    output: str = ""                   # what the student's code printed (not graded)
    usage_error: bool = False          # the command was wrong (no such file), not the submission

    @property
    def passed(self):
        return sum(p.status == "pass" for p in self.parts)

    @property
    def ok(self):
        return bool(self.parts) and not self.problem and self.passed == len(self.parts)

    @property
    def first_reason(self):
        if self.problem:
            return self.problem
        return next((p.reason for p in self.parts if p.status != "pass"), "")


def one_line(text, limit=300):
    """A message from the student's side, safe to print: one line, no control characters."""
    text = "".join(c if c.isprintable() else " " for c in str(text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"




def _lines(lines):
    return f"{len(lines)} line{'s' * (len(lines) != 1)}"


def print_report(result, out, show_output=False):
    print(f"Checking {one_line(result.path, 400)}", file=out)
    ex = result.exercise
    if ex is not None:
        print(f"Exercise {ex.number:02d} · {ex.title} ({len(ex.parts)} parts; random inputs, seed {result.seed})",
              file=out)
    if result.problem:
        print(f"  ✗ FAIL  {result.problem}", file=out)
    else:
        for p in result.parts:
            if p.status == "pass":
                print(f"  ✓ PASS  {p.title}", file=out)
            elif p.status == "todo":
                print(f"  · TODO  {p.title}\n          {p.reason}", file=out)
            else:
                print(f"  ✗ FAIL  {p.title}\n          {p.reason}\n          hint: {p.hint}", file=out)
    if result.output.strip():
        lines = result.output.rstrip().splitlines()
        if show_output:
            print(f"What the file printed ({_lines(lines)}; not graded):", file=out)
            for line in lines[-200:]:
                print(f"  │ {one_line(line, 200)}", file=out)
        else:
            print(f"(the file printed {_lines(lines)}; --show-output shows them)", file=out)
    if ex is None:
        print("Not graded.", file=out)
    else:
        print(f"{result.passed} of {len(ex.parts)} parts passed." + (" Well done!" if result.ok else ""), file=out)

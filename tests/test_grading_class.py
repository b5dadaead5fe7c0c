"""``tinynet check --class``: a mixed folder graded in parallel, the CSV read back."""
import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from tinynet.grading import EXERCISES, check_class

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = (ROOT / "lessons" / "solutions" / "ex03_softmax_ce.py").read_text()
STUB = (ROOT / "lessons" / "exercises" / "ex03_softmax_ce.py").read_text()


@pytest.fixture
def submissions(tmp_path):
    """alice: right; bob: the stub; carol (a folder): right; dave: hangs; eve: exits at import;
    mallory: ReLU's solution; =HYPERLINK: a formula as a file name; frank: an empty folder."""
    d = tmp_path / "class"
    d.mkdir()
    (d / "alice.py").write_text(SOLUTION)
    (d / "bob_ex03.py").write_text(STUB)
    (d / "carol").mkdir()
    (d / "carol" / "ex03_softmax_ce.py").write_text(SOLUTION)
    (d / "carol" / "notes.py").write_text("# scratch\n")
    (d / "dave.py").write_text("EXERCISE = 'softmax_ce'\nwhile True:\n    pass\n")
    (d / "eve.py").write_text("EXERCISE = 'softmax_ce'\nimport os\nos._exit(0)\n")
    (d / "mallory.py").write_text((ROOT / "lessons" / "solutions" / "ex01_relu.py").read_text())
    (d / "=HYPERLINK(1).py").write_text(SOLUTION)
    (d / "frank").mkdir()
    (d / "README.md").write_text("not a submission\n")
    return d


def test_a_mixed_class_is_graded_and_its_csv_is_right(submissions, tmp_path):
    out, grades = io.StringIO(), tmp_path / "grades.csv"
    rows = dict(check_class(submissions, EXERCISES["softmax_ce"], grades, jobs=2, timeout=3, seed=5, out=out))
    assert sorted(rows) == sorted(["alice", "bob_ex03", "carol", "dave", "eve", "mallory", "=HYPERLINK(1)", "frank"])
    assert {s for s, r in rows.items() if r.ok} == {"alice", "carol", "=HYPERLINK(1)"}
    with open(grades, newline="", encoding="utf-8") as f:
        table = {row["student"]: row for row in csv.DictReader(f)}
    parts = [c for c in next(iter(table.values())) if c.startswith("part ")]
    assert len(parts) == len(EXERCISES["softmax_ce"].parts) == 4
    assert [table["alice"][c] for c in parts] == ["pass"] * 4 and table["alice"]["points"] == "4"
    assert [table["bob_ex03"][c] for c in parts] == ["fail"] * 4 and table["bob_ex03"]["points"] == "0"
    assert "not written yet" in table["bob_ex03"]["first failure"]
    assert "did not finish in 3 s" in table["dave"]["first failure"]
    assert "exit status 0" in table["eve"]["first failure"]
    assert "EXERCISE = 'relu'" in table["mallory"]["first failure"]
    assert "no .py file" in table["frank"]["first failure"]
    assert table["carol"]["file"].endswith("ex03_softmax_ce.py") and table["carol"]["points"] == "4"
    assert "'=HYPERLINK(1)" in table                     # a spreadsheet shows it as text
    assert all(table[s]["seed"] == "5" and table[s]["out of"] == "4" for s in table)
    report = out.getvalue()
    assert "3 of 8 passed every part" in report and "part 1:" in report


def test_the_command_line_for_a_class(submissions, tmp_path):
    grades = tmp_path / "g.csv"

    def run(*args):
        return subprocess.run([sys.executable, "-m", "tinynet.check", *map(str, args)], capture_output=True, text=True,
                              cwd=tmp_path)
    r = run("--class", submissions, "--exercise", "3", "--csv", grades, "--jobs", "2", "--timeout", "2")
    assert r.returncode == 0 and grades.exists() and "Summary" in r.stdout, r.stderr
    for args, words in [(["--class", submissions], "needs --exercise"),
                        (["--class", tmp_path / "nowhere", "--exercise", "relu"], "no such folder"),
                        (["--class", submissions, "--exercise", "relu", "--csv", tmp_path / "no" / "g.csv"], "does not exist"),
                        (["--class", submissions, "--exercise", "nope"], "no such exercise"),
                        (["--class", submissions, "--exercise", "relu", "--csv", tmp_path], "is a folder"),
                        ([submissions / "alice.py", "--class", submissions], "not both"),
                        ([], "give an exercise file")]:
        r = run(*args)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.splitlines()) == 1, (args, r.stderr)

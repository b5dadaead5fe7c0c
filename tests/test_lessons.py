"""The lessons: each runs in --quick mode from the repository root, passes its own checks and
saves its figures; every article claim A1–A92 is checked by exactly one lesson; the fact-check
collects the lessons' verdicts into its table.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))


def run(*args, timeout=240):
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_in_quick_mode(path, tmp_path):
    r = run(path, "--quick", "--out", tmp_path)
    report = r.stdout[-4000:] + r.stderr[-2000:]
    assert r.returncode == 0, report
    assert "✓" in r.stdout and "✗" not in r.stdout, report
    figures = re.findall(r"\[figure\] (\S+\.png)", r.stdout)
    assert figures and all((ROOT / f).is_file() or Path(f).is_file() for f in figures), report
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(Path(f).name for f in figures)


def test_every_claim_is_checked_by_exactly_one_lesson():
    ids = [cid for p in LESSONS for cid in re.findall(r'@claim\("(A\d+)"\)', p.read_text())]
    assert sorted(ids, key=lambda c: int(c[1:])) == [f"A{i}" for i in range(1, 93)]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_is_a_notebook_of_cells_using_the_public_api(path):
    text = path.read_text()
    assert text.count("# %%") >= 3 and "lesson(" in text and text.rstrip().endswith("finish()")
    assert "tinynet._" not in text and "from tinynet.ops" not in text     # the public API, as a student


def test_factcheck_collects_the_lessons_claims_into_a_markdown_table(tmp_path):
    out = tmp_path / "factcheck.md"
    r = run(ROOT / "lessons" / "factcheck.py", "--quick", "--lessons", "01,04", "--out", out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    table = out.read_text()
    assert "| A3 | 001 | 70,000 training images and 10,000 test images | **wrong** | n_train = 60,000" in table
    assert re.search(r"\| A15 \| 000 \| .* \| \*\*ambiguous\*\* \| .* \| rule \(claims.md\) \| 04 \|", table)
    assert re.search(r"\| A19 \| 001 \| .* \| \*\*ambiguous\*\* \(judgement\) \| .* \| judgement: notation", table)
    assert "| A1 |" in table and "| A16 |" in table and "| A30 |" not in table
    assert "Not checked in this run:" in table and "A92" in table.split("Not checked in this run:")[1]
    assert table in r.stdout
    header = table.split("| id |")[0]
    assert re.search(r"in \d+ minutes \(2 lessons, \d+ workers?, load average [\d.]+ at the start and [\d.]+ at the "
                     r"end; every lesson passed\)", header), header


@pytest.mark.parametrize("value", ["abc", "0", "-1", "2.5", "65", "1e3"])
def test_a_bad_worker_count_for_the_lessons_is_one_line_naming_the_variable(value, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "lessons" / "05_pooling_and_shapes.py"), "--quick", "--out", tmp_path],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TINYNET_LESSONS_WORKERS": value})
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "TINYNET_LESSONS_WORKERS" in r.stderr, r.stderr


def test_the_lessons_train_on_the_worker_count_they_print(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "lessons" / "05_pooling_and_shapes.py"), "--quick", "--out", tmp_path],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TINYNET_LESSONS_WORKERS": "1"})
    assert r.returncode == 0 and "quick mode: small subsets, few steps, 1 worker)" in r.stdout, r.stdout[-2000:]


def test_claim_registry_records_verdicts_and_turns_a_crashing_check_into_a_failure(capsys):
    sys.path.insert(0, str(ROOT / "lessons"))
    import _common
    import claims
    from verdicts import Claim, Judgement, Rule
    saved = dict(_common.RUN), dict(_common.CLAIMS)
    fakes = {"A999": Claim("A999", "99", "000", "§1", "a claim", Rule("wrong iff x > 1", lambda x: "wrong" if x > 1 else "correct", [])),
             "A998": Claim("A998", "99", "000", "§1", "a crashing check", Rule("as above", lambda x: "correct", [])),
             "A997": Claim("A997", "99", "000", "§1", "a judgement", Judgement("ambiguous", "a reading of the text")),
             "A996": Claim("A996", "98", "000", "§1", "registered to another lesson", Judgement("correct", "a reading"))}
    claims.REGISTRY.update(fakes)
    try:
        _common.RUN.update(number="99", failed=[], passed=0)
        _common.claim("A999")(lambda: ({"x": 2}, "right value 1"))
        assert _common.CLAIMS["A999"]["verdict"] == "wrong" and _common.CLAIMS["A999"]["lesson"] == "99"
        assert _common.CLAIMS["A999"]["kind"] == "computed" and not _common.RUN["failed"]
        _common.claim("A999")(lambda: ({"x": 0}, "small"))
        assert _common.CLAIMS["A999"]["verdict"] == "correct"
        _common.claim("A999")(lambda: (None, "quick run"))
        assert _common.CLAIMS["A999"]["verdict"] is None and not _common.RUN["failed"]
        _common.claim("A998")(lambda: 1 / 0)
        assert _common.CLAIMS["A998"]["verdict"] == "error" and len(_common.RUN["failed"]) == 1
        _common.claim("A998")(lambda: ({"y": 1}, "measured the wrong thing"))     # not what the rule takes
        assert _common.CLAIMS["A998"]["verdict"] == "error" and len(_common.RUN["failed"]) == 2
        _common.claim("A997")(lambda: ({}, "the text says so"))
        assert _common.CLAIMS["A997"]["verdict"] == "ambiguous" and _common.CLAIMS["A997"]["kind"] == "judgement"
        _common.claim("A997")(lambda: ({"x": 1}, "a judgement decided by a number"))
        assert _common.CLAIMS["A997"]["verdict"] == "error" and len(_common.RUN["failed"]) == 3
        _common.claim("A996")(lambda: ({}, "checked in the wrong lesson"))
        assert _common.CLAIMS["A996"]["verdict"] == "error" and len(_common.RUN["failed"]) == 4
        out = capsys.readouterr().out
        assert "WRONG: right value 1" in out and "AMBIGUOUS (judgement): the text says so" in out
    finally:
        for cid in fakes:
            claims.REGISTRY.pop(cid, None)
        _common.RUN.clear()
        _common.RUN.update(saved[0])
        _common.CLAIMS.clear()
        _common.CLAIMS.update(saved[1])


def test_the_factcheck_header_says_which_claims_a_failed_lesson_checks():
    code = ("import sys; sys.path.insert(0, 'lessons'); import factcheck; "
            "print(factcheck.failed_note('16_data_parallel')); print(factcheck.failed_note('05_pooling_and_shapes'))")
    r = run("-c", code, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    lesson16, lesson05 = r.stdout.splitlines()
    assert lesson16 == "16_data_parallel (checks no claim)"
    assert lesson05.startswith("05_pooling_and_shapes (checks A24") and "A81" in lesson05 and "A30" not in lesson05

"""lessons/make_notebooks.py (`make notebooks`): two lessons become notebooks that carry their printed
output and their figures inline, in quick mode; its usage errors are one line each.

The notebook test needs the ``notebooks`` extra and skips without it. It takes two kernel starts and
two quick lessons (~20 s here), so it is not marked slow: it runs wherever the extra is installed.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "lessons" / "make_notebooks.py"


def run(*args, code=None, timeout=600):
    argv = [sys.executable, "-c", code, *map(str, args)] if code else [sys.executable, SCRIPT, *map(str, args)]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def need_extra(*modules):
    for name in modules:
        pytest.importorskip(name, reason="the notebooks extra is missing (pip install -e '.[notebooks]')")


def outputs(nb, kind):
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o["output_type"] == kind]


def test_two_lessons_run_as_notebooks_with_their_output_and_figures_inline(tmp_path):
    need_extra("jupytext", "nbclient", "ipykernel")
    import nbformat
    r = run("--quick", "--lessons", "01,04", "--into", tmp_path, "--out", tmp_path / "figures")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "2 of 2 notebooks ran (quick mode)" in r.stdout
    for name, number in (("01_mnist_files", "01"), ("04_convolution", "04")):
        nb = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
        text = "".join(o["text"] for o in outputs(nb, "stream"))
        assert f"Lesson {number}" in text and "(quick mode" in text and "✓" in text and "✗" not in text
        assert not outputs(nb, "error") and not outputs(nb, "execute_result")   # no stray "True" under a cell
        figures = re.findall(r"\[figure\] (\S+\.png)", text)
        pngs = [o for o in outputs(nb, "display_data") if "image/png" in o["data"]]
        assert figures and len(pngs) == len(figures)                      # every saved figure shown inline
        saved = sorted(p.name for p in (tmp_path / "figures" / number).glob("*.png"))
        assert saved == sorted(Path(f).name for f in figures)
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        assert [c["cell_type"] for c in nb["cells"]].count("markdown") >= 1     # `# %% [markdown]` cells stay prose


def test_an_unknown_lesson_is_one_line(tmp_path):
    r = run("--lessons", "01,99", "--into", tmp_path)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "no lesson 99" in r.stderr and "01, 02" in r.stderr


@pytest.mark.parametrize("args, problem", [(["--timeout", "0"], "--timeout"), (["--timeout", "nan"], "--timeout"),
                                           (["--lessons", ","], "empty list")])
def test_bad_options_are_one_line(tmp_path, args, problem):
    r = run(*args, "--into", tmp_path)
    assert r.returncode == 2 and problem in r.stderr and r.stderr.count("\n") == 1


def test_a_missing_extra_says_which_pip_command_installs_it(tmp_path):
    hide = ("import runpy, sys; sys.modules['jupytext'] = None; sys.argv = ['make_notebooks.py'] + sys.argv[1:]; "
            f"sys.path.insert(0, {str(SCRIPT.parent)!r}); "
            f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')")
    r = run("--lessons", "01", "--into", tmp_path, code=hide)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "notebooks extra is missing" in r.stderr and "-m pip install -e '" in r.stderr and "[notebooks]'" in r.stderr
    assert not list(tmp_path.iterdir())


def test_a_notebook_it_did_not_write_is_never_overwritten(tmp_path):
    need_extra("nbformat")
    mine = tmp_path / "01_mnist_files.ipynb"
    mine.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    before = mine.read_bytes()
    r = run("--quick", "--lessons", "01", "--into", tmp_path)
    assert r.returncode == 1 and "not overwritten" in r.stderr and r.stderr.count("\n") == 1
    assert mine.read_bytes() == before


def test_a_bad_quick_setting_in_the_environment_is_one_line_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYNET_LESSONS_QUICK", "yes")
    r = run("--lessons", "01", "--into", tmp_path)
    assert r.returncode == 2 and "TINYNET_LESSONS_QUICK='yes'" in r.stderr and r.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_a_failed_lesson_is_reported_by_the_line_it_printed_last():
    need_extra("jupytext", "nbclient", "ipykernel")
    import jupytext
    import nbclient
    sys.path.insert(0, str(SCRIPT.parent))
    import make_notebooks
    nb = jupytext.reads("# %%\nprint('Lesson 99: 3 checks passed, 1 failed')\nprint('failed: x == y')\n"
                        "import sys; sys.exit(1)\n", fmt="py:percent")
    with pytest.raises(nbclient.exceptions.CellExecutionError) as e:
        nbclient.NotebookClient(nb, timeout=120).execute()
    assert make_notebooks.failure_line(e.value, nb) == "SystemExit: 1 after: failed: x == y"

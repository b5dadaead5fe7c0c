"""The exercise grader (tinynet.grading) against the exercises, their solutions and wrong answers.

Every solution passes every part; every untouched stub fails every part (as "not written yet");
typical wrong answers — written below as small edits of a solution — fail the part they should,
with the diagnosis a student needs.
"""
import io
import subprocess
import sys
from pathlib import Path

import pytest

from tinynet.check import main
from tinynet.grading import EXERCISES, check_file

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "lessons" / "solutions").glob("ex[0-9][0-9]_*.py"))
STUBS = sorted((ROOT / "lessons" / "exercises").glob("ex[0-9][0-9]_*.py"))
sys.path.insert(0, str(ROOT / "lessons" / "solutions"))
from make_exercises import strip  # noqa: E402


def grade(path, **options):
    out = io.StringIO()
    result = check_file(path, out=out, **options)
    return {p.title: p.status for p in result.parts}, out.getvalue()


def test_at_least_ten_exercises_each_with_a_solution_and_a_checker():
    assert len(STUBS) >= 10
    assert [p.name for p in STUBS] == [p.name for p in SOLUTIONS]
    declared = set()
    for p in SOLUTIONS:
        line = next(x for x in p.read_text().splitlines() if x.startswith("EXERCISE = "))
        declared.add(line.split("=")[1].strip().strip('"'))
    assert declared == set(EXERCISES)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_passes_every_part(path):
    results, report = grade(path)
    assert results and set(results.values()) == {"pass"}, report
    assert main([str(path)]) == 0


@pytest.mark.parametrize("path", STUBS, ids=lambda p: p.stem)
def test_untouched_stub_fails_every_part(path):
    results, report = grade(path)
    assert results and set(results.values()) == {"todo"}, report
    assert "not written yet" in report and "line" in report
    assert main([str(path)]) == 1


def test_a_stub_names_the_todo_of_each_part():
    """The backward part names backward's own TODO line, and the forward line it needs first."""
    stub = ROOT / "lessons" / "exercises" / "ex01_relu.py"
    lines = stub.read_text().splitlines()
    forward, backward = [i + 2 for i, line in enumerate(lines) if "# TODO" in line and "return" in line]
    _, report = grade(stub)
    parts = report.split("· TODO")[1:]
    assert f"ReLU.forward, line {forward}" in parts[0] and "ReLU.backward" not in parts[0], report
    assert f"ReLU.backward, line {backward}" in parts[1] and f"ReLU.forward (line {forward})" in parts[1], report


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_exercise_is_the_solution_with_uniform_todo_stubs(solution):
    stub = ROOT / "lessons" / "exercises" / solution.name
    assert stub.read_text() == strip(solution.read_text()), "run: python lessons/solutions/make_exercises.py"
    lines = stub.read_text().splitlines()
    raises = [i for i, line in enumerate(lines) if line.strip() == "raise NotImplementedError"]
    assert raises and "BEGIN SOLUTION" not in stub.read_text()
    for i in raises:          # every stub sits right under its "# TODO" comment
        assert any(lines[k].strip().startswith("# TODO") for k in range(i - 3, i)), (stub.name, i + 1)


# (solution file, text in the solution, the wrong answer, part title that must fail, words in the report)
WRONG = [
    ("ex03_softmax_ce", "return g * (gy / n)", "return g * gy",
     "backward", "7 × the expected one"),                                        # forgotten 1/N
    ("ex04_linear", "gy.T @ self.x", "self.x.T @ gy",
     "square weight", "transposed"),                                             # transposed gradient
    ("ex09_adam", 'm_hat = s["m"] / (1 - b1 ** s["t"])\n            v_hat = s["v"] / (1 - b2 ** s["t"])',
     'm_hat = s["m"]\n            v_hat = s["v"]', "first step", "3.162 ×"),     # no bias correction
    ("ex01_relu", "return gy * self.mask", "return self.mask.astype(gy.dtype)",
     "backward", "differ"),                                                      # chain rule forgotten
    ("ex02_sigmoid", "e = np.exp(-np.abs(x))\n        self.y = np.where(x >= 0, 1, e) / (1 + e)",
     "self.y = 1 / (1 + np.exp(-x))", "overflow", "overflowed"),                 # naive, overflows
    ("ex03_softmax_ce", "shifted = z - z.max(axis=1, keepdims=True)", "shifted = z",
     "stable", "contains inf"),                                                           # no log-sum-exp shift
    ("ex05_im2col", "xp[:, :, PH:PH + H, PW:PW + W] = x", "xp[:, :, :H, :W] = x",
     "padding", "differ"),                                                       # padding on one side only
    ("ex06_conv2d_backward", "gy[n] @ self.col[n].T for n", "self.col[n] @ gy[n].T for n",
     "∂L/∂w", "wrong places"),                                                   # transposed weight gradient
    ("ex06_conv2d_backward", "return gy.sum(axis=(0, 2))", "return gy.sum(axis=2)[0]",
     "∂L/∂b", "differ"),                                                         # bias gradient of one image
    ("ex07_maxpool_backward", "np.add.at(gx, (n, c, oh * S + i, ow * S + j), gy[:, :, oh, ow])",
     "gx[n, c, oh * S + i, ow * S + j] = gy[:, :, oh, ow]", "overlapping", "differ"),   # = instead of +=
    ("ex08_sgd_momentum", "self.momentum * self.state[p] + g", "self.momentum * self.state[p] + (1 - self.momentum) * g",
     "momentum 0.9", "after step 2"),                                            # dampened momentum
    ("ex10_idx_header", 'int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big")', 'int.from_bytes(data[4 + 4 * k:8 + 4 * k], "little")',
     "MNIST's training-image header", "expected (8, [60000, 28, 28], 16)"),     # little-endian sizes
    ("ex11_freezing", 'return name == prefix or name.startswith(prefix + ".")', "return name.startswith(prefix)",
     "whole name components", "matches('fc10.weight', 'fc1')"),                 # string prefix, not component
    ("ex12_lora", "tn.zeros(base.out_features, rank)", "tn.randn(base.out_features, rank)",
     "output starts equal", "lora_B all zeros"),                                 # B not zero at the start
    ("ex12_lora", "return self.base(x) + self.scale * ((x @ self.lora_A.T) @ self.lora_B.T)",
     "return self.base(x) + tn.Tensor(self.scale * ((x.data @ self.lora_A.data.T) @ self.lora_B.data.T))",
     "backward reaches A and B", "graph"),                                        # .data cuts the graph
]


@pytest.mark.parametrize("name, right, wrong, part, words", WRONG, ids=[f"{w[0]}-{w[3]}" for w in WRONG])
def test_typical_wrong_answer_fails_with_a_useful_report(tmp_path, name, right, wrong, part, words):
    source = (ROOT / "lessons" / "solutions" / f"{name}.py").read_text()
    assert source.count(right) == 1, f"the fixture no longer matches {name}.py"
    student = tmp_path / f"my_{name}.py"          # a student's copy, somewhere else
    student.write_text(source.replace(right, wrong))
    results, report = grade(student)
    failing = [title for title, status in results.items() if status == "fail"]
    assert any(part in title for title in failing), report
    assert words in report and "hint:" in report, report
    assert main([str(student)]) == 1


def test_command_line_exit_codes(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "tinynet.check", *map(str, args)], cwd=ROOT,
                              capture_output=True, text=True)
    ok = run(SOLUTIONS[2])
    assert ok.returncode == 0 and "PASS" in ok.stdout and "FAIL" not in ok.stdout
    stub = run(STUBS[2])
    assert stub.returncode == 1 and "TODO" in stub.stdout
    assert run(tmp_path / "missing.py").returncode == 2
    broken = tmp_path / "broken.py"
    broken.write_text("EXERCISE = 'relu'\ndef relu(x):\n    return x +\n")
    r = run(broken)
    assert r.returncode == 1 and "does not run" in r.stdout
    unknown = tmp_path / "unknown.py"
    unknown.write_text("EXERCISE = 'nope'\n")
    r = run(unknown)
    assert r.returncode == 1 and "expected one of" in r.stdout
    for option in (["--timeout", "0"], ["--timeout", "x"], ["--memory", "-1"], ["--jobs", "2"], ["--seed", "-1"]):
        r = run(SOLUTIONS[0], *option)
        assert r.returncode == 2 and r.stderr.startswith("tinynet check: error:") and len(r.stderr.splitlines()) == 1


def test_tinynet_check_subcommand():
    from tinynet.cli import main as cli_main
    assert cli_main(["check", str(SOLUTIONS[0])]) == 0
    assert cli_main(["check", str(STUBS[0])]) == 1


def test_an_endless_loop_is_cut_at_the_time_limit(tmp_path):
    student = tmp_path / "loop.py"
    student.write_text("import tinynet as tn\nEXERCISE = 'relu'\n"
                       "def relu(x):\n    while True:\n        pass\n")
    results, report = grade(student, timeout=2)
    assert set(results.values()) == {"fail"} and "did not finish in 2 s" in report


def test_the_same_seed_gives_the_same_inputs_and_report():
    stub = ROOT / "lessons" / "exercises" / "ex03_softmax_ce.py"
    first, second = grade(stub, seed=7)[1], grade(stub, seed=7)[1]
    assert "seed 7" in first and first == second


def test_the_sigmoid_overflow_inputs_overflow_a_naive_sigmoid_on_every_seed():
    """The part must fail 1 / (1 + e^−x) whatever the seed: every draw has an |x| above float64's
    overflow point of e^x (ln(max float64) ≈ 709.78)."""
    import numpy as np
    from tinynet.grading.exercises import ex02_sigmoid
    for seed in range(2000):
        x = ex02_sigmoid._extremes(np.random.default_rng(seed))["x"]
        with np.errstate(over="ignore"):
            assert np.isinf(np.exp(-x)).any(), (seed, x)

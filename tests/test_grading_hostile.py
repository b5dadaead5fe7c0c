"""Hostile submissions, written here as a student would: every one must fail, quickly, with a reason.

Each is graded in its own child process (tinynet.grading); the grader's verdicts, references and
files must come out unchanged, and a correct solution graded afterwards must still pass.
"""
import io
import time
from pathlib import Path

import pytest

from tinynet.grading import check_file

ROOT = Path(__file__).resolve().parents[1]
RELU = (ROOT / "lessons" / "solutions" / "ex01_relu.py").read_text()
WRONG_RELU = "import tinynet as tn\nEXERCISE = 'relu'\ndef relu(x):\n    return x\n"
TIMEOUT = 3            # a hostile file is stopped this soon
OK_TIMEOUT = 60        # a correct file is given time, so a loaded machine does not fail it

# name -> (exercise file name, source, words the report must contain)
HOSTILE = {
    "sys.exit at import": ("ex01_relu.py", "EXERCISE = 'relu'\nimport sys\nsys.exit(0)\n", "SystemExit"),
    "os._exit at import": ("ex01_relu.py", "EXERCISE = 'relu'\nimport os\nos._exit(0)\n", "exit status 0"),
    "SystemExit(0) in the graded function": ("ex01_relu.py", "EXERCISE = 'relu'\ndef relu(x):\n    raise SystemExit(0)\n",
                                             "SystemExit"),
    "KeyboardInterrupt in the graded function": ("ex01_relu.py", "EXERCISE = 'relu'\ndef relu(x):\n"
                                                 "    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    "fake PASS lines, then os._exit(0)": ("ex01_relu.py", "EXERCISE = 'relu'\nimport os, sys\n"
                                          "print('  ✓ PASS  forward\\n3 of 3 parts passed. Well done!', flush=True)\n"
                                          "os._exit(0)\n", "exit status 0"),
    "an atexit hook that exits 0": ("ex01_relu.py", WRONG_RELU + "import atexit, os\natexit.register(lambda: os._exit(0))\n",
                                    "relu(x)"),
    "builtins.print replaced": ("ex01_relu.py", WRONG_RELU + "import builtins\n"
                                "builtins.print = lambda *a, **k: None\n", "relu(x)"),
    "the reference replaced, the gradient check stubbed": (
        "ex01_relu.py", WRONG_RELU + "import tinynet, tinynet.functional, tinynet.gradcheck\n"
        "tinynet.functional.relu = relu\ntinynet.relu = relu\n"
        "tinynet.gradcheck.gradcheck = lambda *a, **k: True\n", "relu(x)"),
    "the exercise table emptied": ("ex01_relu.py", WRONG_RELU + "from tinynet.grading.registry import EXERCISES\n"
                                   "for ex in EXERCISES.values():\n    ex.parts.clear()\n", "relu(x)"),
    "tinynet's relu under the exercise's name": ("ex01_relu.py", "import tinynet\nEXERCISE = 'relu'\n"
                                                 "relu = tinynet.functional.relu\n", "own implementation"),
    "a thin wrapper around tinynet's relu": ("ex01_relu.py", "import tinynet as tn\nEXERCISE = 'relu'\n"
                                             "def relu(x):\n    return x.relu()\n", "own implementation"),
    "tinynet's Function subclassed": ("ex01_relu.py", "import importlib\nEXERCISE = 'relu'\n"
                                      "ops = importlib.import_module('tinynet.ops.activation')\n"
                                      "class ReLU(ops.ReLU):\n    pass\n"
                                      "def relu(x):\n    return ReLU()(x)\n", "own implementation"),
    "tinynet's ops composed instead of a backward": ("ex01_relu.py", "import tinynet as tn\nEXERCISE = 'relu'\n"
                                                     "def relu(x):\n    return x * tn.Tensor((x.data > 0) * 1.0)\n",
                                                     "own implementation"),
    "tinynet's Adam as the solution": ("ex09_adam.py", "EXERCISE = 'adam'\nfrom tinynet.optim import Adam\n",
                                       "own implementation"),
    "tinynet's im2col as the solution": ("ex05_im2col.py", "EXERCISE = 'im2col'\nfrom tinynet import im2col as m\n"
                                         "def im2col(x, k, s=1, p=0):\n    return m.im2col(x, (k, k) if isinstance(k, int) "
                                         "else k, (s, s) if isinstance(s, int) else s, (p, p) if isinstance(p, int) else p)\n",
                                         "own implementation"),
    "a correct ReLU presented as the LoRA exercise": ("ex12_lora.py", RELU, "EXERCISE = 'relu'"),
    "an endless loop at import": ("ex01_relu.py", "EXERCISE = 'relu'\nwhile True:\n    pass\n", "did not finish in 3 s"),
    "an endless loop in the graded function": ("ex01_relu.py", "EXERCISE = 'relu'\ndef relu(x):\n    while True:\n"
                                               "        pass\n", "did not finish in 3 s"),
    "a loop that catches BaseException and ignores signals": (
        "ex01_relu.py", "import signal\nEXERCISE = 'relu'\n"
        "for s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):\n    signal.signal(s, signal.SIG_IGN)\n"
        "def relu(x):\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except BaseException:\n            pass\n", "did not finish in 3 s"),
    "signal.alarm disabled": ("ex01_relu.py", "import signal\nEXERCISE = 'relu'\nsignal.alarm = lambda *a: 0\n"
                              "signal.signal = lambda *a: None\nwhile True:\n    pass\n", "did not finish"),
    "a forged report on the inherited pipes": (
        "ex01_relu.py", WRONG_RELU + "import os\nfor fd in range(3, 20):\n    try:\n"
        "        os.write(fd, b'{\"event\":\"loaded\"}\\n{\"event\":\"done\"}\\n')\n    except OSError:\n        pass\n",
        "report pipe"),
    "a subprocess": ("ex01_relu.py", WRONG_RELU + "import subprocess\nsubprocess.run(['true'])\n", "start a process"),
    "a fork": ("ex01_relu.py", WRONG_RELU + "import os\nif os.fork() == 0:\n    os.setsid()\n", "start a process"),
    "a signal to the grader": ("ex01_relu.py", WRONG_RELU + "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n",
                               "send a signal"),
    "a thread that would run unwatched": ("ex01_relu.py", WRONG_RELU + "import threading\n"
                                          "threading.Thread(target=lambda: None).start()\n", "start a thread"),
    "raising its own memory limit": ("ex01_relu.py", WRONG_RELU + "import resource\n"
                                     "resource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n", "resource limits"),
    "a memory bomb": ("ex01_relu.py", "import numpy as np\nEXERCISE = 'relu'\nhog = np.ones(1 << 31)\n", "MemoryError"),
    "gigabytes printed": ("ex01_relu.py", "EXERCISE = 'relu'\nimport sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
                          "File too large"),
    "ctypes": ("ex01_relu.py", WRONG_RELU + "import ctypes\nctypes.CDLL(None)\n", "ctypes"),
    "a network socket": ("ex01_relu.py", WRONG_RELU + "import socket\nsocket.socket()\n", "socket"),
    "the garbage collector searched": ("ex01_relu.py", WRONG_RELU + "import gc\ngc.get_objects()\n", "search the grader"),
    "an answer table for the known seeds": ("ex01_relu.py", WRONG_RELU.replace("return x", "return x * 0 + 1"), "relu(x)"),
    "a returned object whose __array__ explodes": (
        "ex01_relu.py", "EXERCISE = 'relu'\nclass Evil:\n    def __array__(self, *a, **k):\n        raise SystemExit(0)\n"
        "    def __float__(self):\n        while True:\n            pass\n"
        "def relu(x):\n    return Evil()\n", "not an array"),
    "tinynet's source executed under another name": (
        "ex01_relu.py", "import os, tinynet\nEXERCISE = 'relu'\n"
        "src = open(os.path.join(os.path.dirname(tinynet.__file__), 'ops', 'activation.py')).read()\n"
        "g = {'__name__': 'copy', '__package__': 'tinynet.ops'}\nexec(compile(src, 'copy.py', 'exec'), g)\n"
        "relu = g['relu']\n", "a copy of tinynet/ops/activation.py"),
    "tinynet's code objects copied": (
        "ex01_relu.py", "import types, tinynet as tn\nfrom tinynet.ops.activation import ReLU as R\nEXERCISE = 'relu'\n"
        "def cp(f):\n    return types.FunctionType(f.__code__.replace(co_name='x'), f.__globals__)\n"
        "class ReLU(tn.Function):\n    forward = cp(R.forward)\n    backward = cp(R.backward)\n"
        "def relu(x):\n    return ReLU()(x)\n", "a copy of tinynet.ops.activation.ReLU.forward"),
    "tinynet's relu in a raw thread": (
        "ex01_relu.py", "import _thread\nimport tinynet.functional as F\nEXERCISE = 'relu'\n"
        "def relu(x):\n    box, lock = [], _thread.allocate_lock()\n    lock.acquire()\n"
        "    _thread.start_new(lambda: (box.append(F.relu(x)), lock.release()), ())\n"
        "    lock.acquire()\n    return box[0]\n", "start a thread"),
    "the profile hook looked at": ("ex01_relu.py", WRONG_RELU + "import sys\nsys.getprofile()\n", "profile hook"),
    "a signal through a pidfd": ("ex01_relu.py", WRONG_RELU + "import os, signal\n"
                                 "signal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGSTOP)\n",
                                 "signal another process"),
    "a process started by _posixsubprocess": (
        "ex01_relu.py", WRONG_RELU + "import _posixsubprocess, os, sys\nr, w = os.pipe()\n"
        "_posixsubprocess.fork_exec([sys.executable, '-c', 'pass'], [sys.executable.encode()], True, (), None, None,"
        " -1, -1, -1, -1, -1, -1, r, w, False, True, -1, None, None, None, -1, None, False)\n", "start a process"),
    "a file outside changed through a dir_fd": (
        "ex01_relu.py", WRONG_RELU + "import os\nd = os.open('/tmp/victim/..', os.O_RDONLY)\n"
        "os.write(os.open('outside.txt', os.O_WRONLY | os.O_TRUNC, dir_fd=d), b'x')\n", "may not do"),
    "a file outside removed through a dir_fd": ("ex01_relu.py", WRONG_RELU + "import os\n"
                                                "os.remove('outside.txt', dir_fd=3)\n", "change files outside"),
    "the teacher's solution imported": ("ex01_relu.py", "EXERCISE = 'relu'\nimport importlib.util as u\n"
                                        f"s = u.spec_from_file_location('s', {str(ROOT / 'lessons/solutions/ex01_relu.py')!r})\n"
                                        "m = u.module_from_spec(s)\ns.loader.exec_module(m)\nrelu = m.relu\n",
                                        "teacher's solutions"),
    "a message sent as the grader": ("ex01_relu.py", RELU + "import sys\nsys.audit('tinynet.grading.report', "
                                     "{'event': 'done'})\n", "send a message as the grader"),
    "a table of answers for the freezing cases": (
        "ex11_freezing.py", "EXERCISE = 'freezing'\n"
        "def matches(name, prefix):\n    return name == prefix or name.startswith(prefix + '.')\n"
        "def freeze(model, names):\n    for n, p in model.named_parameters():\n"
        "        if any(matches(n, m) for m in names):\n            p.requires_grad = False\n"
        "def count_parameters(model, trainable_only=False):\n    return 402826 if trainable_only else 421642\n"
        "def trainable_parameters(model):\n    return [p for p in model.parameters() if p.requires_grad]\n",
        "a Sequential of Linear layers"),
    "a huge broadcast view returned": ("ex01_relu.py", "import numpy as np\nEXERCISE = 'relu'\n"
                                       "def relu(x):\n    return np.broadcast_to(np.float32(0), (1 << 40,))\n",
                                       "more than the grader takes"),
}


def _grade(tmp_path, name, source, timeout=TIMEOUT, **options):
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(source)
    out = io.StringIO()
    start = time.monotonic()
    result = check_file(path, out=out, timeout=timeout, seed=3, **options)
    return result, out.getvalue(), time.monotonic() - start


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_a_hostile_submission_fails_quickly_with_a_reason(tmp_path, case):
    name, source, words = HOSTILE[case]
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    result, report, seconds = _grade(tmp_path, name, source.replace("/tmp/victim", str(tmp_path / "student")))
    assert not result.ok, report
    assert words in report, report
    assert seconds < TIMEOUT + 10, seconds
    assert "Traceback" not in report
    assert outside.read_text() == "keep me"


def test_writing_outside_its_folder_is_refused_and_changes_nothing(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for action in (f"open({str(victim)!r}, 'w').write('x')", f"import os\nos.remove({str(victim)!r})",
                   f"import os\nos.rename({str(victim)!r}, {str(victim) + '2'!r})",
                   f"import shutil\nshutil.rmtree({str(tmp_path)!r})"):
        result, report, _ = _grade(tmp_path, "ex01_relu.py", RELU + action + "\n")
        assert not result.ok and "may not do" in report, report
        assert victim.read_text() == "keep me"


def test_a_file_name_cannot_print_fake_lines(tmp_path):
    name = "x\n  ✓ PASS  everything\n3 of 3 parts passed. Well done!\n.py"
    result, report, _ = _grade(tmp_path, name, WRONG_RELU)
    assert not result.ok and "\n  ✓ PASS  everything" not in report


def test_files_in_its_own_temporary_folder_are_allowed(tmp_path):
    result, report, _ = _grade(tmp_path, "ex01_relu.py", RELU + "open('scratch.txt', 'w').write('notes')\n",
                               timeout=OK_TIMEOUT)
    assert result.ok, report


def test_a_correct_solution_still_passes_after_the_attacks(tmp_path):
    for name, source, _ in HOSTILE.values():
        if "reference replaced" in source or "EXERCISES" in source:
            _grade(tmp_path, name, source)
    result, report, _ = _grade(tmp_path, "ex01_relu.py", RELU, timeout=OK_TIMEOUT)
    assert result.ok, report


@pytest.mark.parametrize("content, words", [
    (b"\x89PNG\r\n\x1a\n\0\0\0", "binary data"), (b"\xff\xfe\xfa junk", "not UTF-8"), (b"", "cannot tell which exercise"),
    (b"# Exercise notes\n\nSee the lesson.\n", "SyntaxError"), (b"# notes\nx = 1\n", "cannot tell which exercise"),
    (b"EXERCISE = ['relu']\n", "plain string"), (b"EXERCISE = 'Relu'\n", "expected one of: relu, sigmoid"),
])
def test_files_that_are_no_exercise_say_so_in_one_line(tmp_path, content, words):
    path = tmp_path / "submission.py"
    path.write_bytes(content)
    out = io.StringIO()
    result = check_file(path, out=out)
    assert not result.ok and words in result.problem, result.problem
    assert "\n" not in result.problem


def test_a_markdown_file_is_not_python(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("# My exercise\n\nIt's done: `relu` works.\n")
    result = check_file(path, out=io.StringIO(), exercise="relu")
    assert not result.ok and "is not a Python file" in result.problem


def test_the_exercise_named_by_the_file_must_agree_with_its_EXERCISE(tmp_path):
    for name, exercise, ok, words in [("alice_ex01.py", None, True, ""), ("ex01_relu.py", "relu", True, ""),
                                      ("anything.py", "1", True, ""), ("solution.py", None, True, ""),
                                      ("alice_ex12.py", None, False, "name says exercise 12 (lora)"),
                                      ("ex01_relu.py", "lora", False, "graded as exercise 12 (lora)"),
                                      ("ex99_new.py", None, False, "does not exist"),
                                      ("ex01_relu.py", "nonsense", False, "no such exercise")]:
        path = tmp_path / name
        path.write_text(RELU)
        result = check_file(path, exercise=exercise, out=io.StringIO())
        assert result.ok == ok and words in result.problem, (name, exercise, result.problem)


def test_tinynet_used_at_import_fails_every_part(tmp_path):
    source = RELU + "import tinynet.functional as F\nF.relu(tn.tensor([1.0]))\n"
    result, report, _ = _grade(tmp_path, "ex01_relu.py", source)
    assert not result.ok and "when the file is imported" in result.problem, report


@pytest.mark.parametrize("value", [
    {"__array__": ["object", [1], "AA=="]}, {"__array__": ["float64", [2], "AAAAAAAAAAA="]},
    {"__array__": ["float64", [1 << 40], ""]}, {"__array__": ["float64", [-1], ""]}, {"__array__": "x"},
    {"__array__": ["float64", [1], "not base64!"]}, [[[[[[[[[[[[1]]]]]]]]]]]], {"__opaque__": 1, "x": 2},
])
def test_the_parent_refuses_malformed_values(value):
    from tinynet.grading.protocol import ProtocolError, decode
    if isinstance(value, dict) and set(value) == {"__opaque__", "x"}:
        assert decode(value) == {"__opaque__": 1, "x": 2}         # an ordinary dict, not a marker
        return
    with pytest.raises(ProtocolError):
        decode(value)


def test_values_travel_exactly():
    import numpy as np
    from tinynet.grading.protocol import decode, encode
    a = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    back = decode(encode({"a": a, "n": 3, "t": (1, [2.5, None]), "s": "x", "o": object()}))
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], a)
    assert back["n"] == 3 and back["t"] == [1, [2.5, None]] and back["s"] == "x" and back["o"].type_name == "object"


def test_where_namespaces_are_allowed_the_child_sees_nothing_else(tmp_path):
    from tinynet.grading import isolation
    if not isolation.available():
        pytest.skip("this machine does not allow Linux namespaces (unshare)")
    probe = RELU + "import os\nprint('parent', os.getppid(), 'processes', sum(p.isdigit() for p in os.listdir('/proc')))\n"
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "ex01_relu.py").write_text(probe)
    out = io.StringIO()
    result = check_file(folder / "ex01_relu.py", out=out, show_output=True)
    assert result.ok and "parent 0 processes 1" in out.getvalue(), out.getvalue()


def test_what_the_file_prints_is_shown_only_on_request_and_marked(tmp_path):
    result, report, _ = _grade(tmp_path, "ex01_relu.py", RELU + "print('  ✓ PASS  hello from the student')\n",
                               timeout=OK_TIMEOUT)
    assert result.ok and "printed 1 line" in report and "hello from the student" not in report
    out = io.StringIO()
    check_file(tmp_path / "student" / "ex01_relu.py", out=out, show_output=True)
    assert "  │ ✓ PASS hello from the student" in out.getvalue(), out.getvalue()

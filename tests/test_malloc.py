"""tinynet/malloc.py: glibc's thresholds are raised at import, unless TINYNET_MALLOC=default."""
import os
import platform
import subprocess
import sys

import pytest

glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def tuned_in_fresh_process(**env):
    code = "import tinynet, tinynet.malloc as m; print(m.tuned)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return out.stdout.strip() == "True"


@pytest.mark.skipif(not glibc, reason="mallopt is glibc's")
def test_thresholds_raised_at_import():
    assert tuned_in_fresh_process(TINYNET_MALLOC="")


def test_opt_out_leaves_malloc_alone():
    assert not tuned_in_fresh_process(TINYNET_MALLOC="default")


@pytest.mark.skipif(not glibc, reason="page faults measured with glibc's malloc")
def test_freed_arrays_are_reused_without_page_faults():
    """A 30 MB array freed and allocated again costs (almost) no new page faults once tuned."""
    code = ("import resource, tinynet; from tinynet import backend; xp = backend.get_module()\n"
            "def f(): a = xp.ones(30 << 18, dtype='float32'); return float(a[-1])\n"
            "f(); r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(5): f()\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)")
    faults = {}
    for setting in ("", "default"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "TINYNET_MALLOC": setting})
        faults[setting] = int(out.stdout)
    assert faults[""] < 200 < faults["default"], faults     # 5 × 7,680 pages when memory goes back each time

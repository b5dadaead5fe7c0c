"""Keep freed memory in the process: glibc's malloc thresholds, set once when tinynet loads.

A training step allocates tens of MB of arrays (im2col buffers, activations, gradients) and frees
them at its end. With glibc's defaults, blocks of 128 KB or more come from fresh ``mmap`` calls
and the top of the heap goes back to the kernel when it is freed, so the next step asks the
kernel again and every 4 KB page of it is faulted in and zeroed anew: about 4,000-8,000 page
faults and 10-20 ms of system time per step of the articles' CNN on this project's machine.
Raising two thresholds keeps the memory for reuse:

    M_MMAP_THRESHOLD = 256 MB   blocks below this come from the heap, not from mmap
    M_TRIM_THRESHOLD = 512 MB   the heap is given back only when this much is free at its top

This is what ``MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=536870912`` does on the
command line. It applies to the whole process; the cost is that freed memory up to these
amounts stays with the process. Set ``TINYNET_MALLOC=default`` to leave malloc alone. Nothing
happens where the C library is not glibc (macOS, Windows, musl).
"""
import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3      # glibc's <malloc.h> parameter numbers
MMAP_THRESHOLD, TRIM_THRESHOLD = 256 << 20, 512 << 20

tuned = False     # True once the thresholds were set in this process


def keep_freed_memory():
    """Raise glibc's mmap and trim thresholds (see the module docstring). Returns whether it did."""
    global tuned
    if os.environ.get("TINYNET_MALLOC", "").lower() == "default":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):           # not glibc
        return False
    tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return tuned

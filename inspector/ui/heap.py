"""The window's C heap (glibc's malloc): where big blocks live, and giving freed memory back.

A window that opens and closes models all day must not grow. The glibc parts do nothing where the
C library is not glibc (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameter from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
# Blocks this big or bigger get pages of their own (mmap), given back to the system when freed.
# At glibc's initial 128 KiB every layout and scene array is an mmap and its page faults: the
# 100k-node open took 4.5 s instead of 3.7; at 4 MiB it takes 3.6 s and frees as well.
MMAP_THRESHOLD = 4 * 1024 * 1024


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl)


_LIBC = _load_libc()


def fix_mmap_threshold() -> None:
    """Keep big blocks (numpy arrays, protobuf buffers, a graph's arrays) out of the heap.

    glibc raises its mmap threshold (from 128 KiB up to 32 MiB) each time a mmapped block is freed,
    so after the first model is closed the next ones' big buffers come from the heap, between small
    long-lived blocks that pin them there: ten opens and closes of the 10k-node export left the
    window 10-26% bigger than after the first (the heap's free bytes rose 45 → 59 MiB while those
    in use stayed at 31 MiB); with the threshold fixed, 3-4%."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def trim() -> None:
    """Give freed memory back to the system: Python's small-object arenas, then the heap's free
    pages in every thread's arena.

    CPython's method cache keeps a reference to the name of each of its last 4,096 attribute
    lookups. Shiboken looks Qt calls' names up with strings it makes per call, so after a model
    is closed the cache still holds a few hundred such 5-12 character strings made while the model
    was open, one in this arena, one in that: they kept ~7 of Python's 1 MiB arenas per open and
    close of the 100k-node export (ten rounds: +24% resident). Emptying the cache frees them; it
    refills within the next lookups."""
    sys._clear_type_cache()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)

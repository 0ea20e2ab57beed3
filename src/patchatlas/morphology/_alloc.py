"""Allocator tuning for the array-heavy morphology engine (glibc only, opt-out).

Every read and feature pass allocates a few dozen temporaries of 0.1–30 MB. With glibc's
default thresholds each of them is a fresh ``mmap`` (or is returned to the system by heap
trimming) and every page is faulted in again on the next call; on virtual machines a page
fault costs microseconds, which made a 2,000-node cell's read 30–40 % slower than its
arithmetic. Raising ``M_MMAP_THRESHOLD`` to 32 MiB (glibc's maximum) and ``M_TRIM_THRESHOLD``
to 256 MiB lets freed blocks be reused: the process keeps up to 256 MiB of freed memory
instead of handing it back at once.

This changes the whole process, so the library never does it on import: applications that batch
many cells call :func:`tune_allocator` (the ``patchatlas morph`` commands and the morphology
benchmark do). It acts only on Linux with glibc, once, and never when the user set
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` themselves or
``PATCHATLAS_NO_MALLOC_TUNING=1``.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_applied: bool | None = None


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds once; return whether they are raised.

    Process-wide: call it from an application (a CLI command, a batch script), never from
    library code. Later calls return the first call's answer.

    Returns
    -------
    bool
        True when ``M_MMAP_THRESHOLD`` (32 MiB) and ``M_TRIM_THRESHOLD`` (256 MiB) were set;
        False off Linux/glibc, when the user set ``MALLOC_MMAP_THRESHOLD_`` /
        ``MALLOC_TRIM_THRESHOLD_`` or ``PATCHATLAS_NO_MALLOC_TUNING``, or when ``mallopt``
        refused.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux") or os.environ.get("PATCHATLAS_NO_MALLOC_TUNING"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = int(libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)) == 1
        ok = int(libc.mallopt(_M_TRIM_THRESHOLD, 256 * 2**20)) == 1 and ok
    except (OSError, AttributeError):  # musl or no libc.so.6: leave the allocator alone
        return False
    _applied = ok
    return ok

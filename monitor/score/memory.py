"""Handing freed heap memory back to the operating system during long batch runs."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable

#: Resident size above which :func:`trim_if_above` hands freed memory back (1.25 GiB).
DEFAULT_TRIM_ABOVE = 5 << 28


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_free_memory() -> bool:
    """Return freed heap pages to the OS; True when the C library could do it.

    Scoring allocates activations of a different shape for nearly every batch; glibc keeps the
    freed blocks in per-thread arenas, fragmented, so resident memory grows with the number of
    posts even though nothing is retained (measured: 1.3 GB after 40,000 posts, 0.76 GB with a
    trim after each chunk).
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def resident_bytes() -> int | None:
    """This process's resident memory from ``/proc/self/statm`` (None where there is none)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def trim_if_above(limit: int = DEFAULT_TRIM_ABOVE) -> bool:
    """:func:`release_free_memory` when resident memory is above ``limit`` bytes.

    A trim costs about 10 ms and makes the next batches fault their pages in again (and the
    kernel zero them), so it is done only when memory has actually grown; returns True when a
    trim ran. The score stage checks after every batch; at 1.25 GiB its 200,000-post run in
    ``python bench/score.py`` peaks at 1.4 GB on 2 cores. While this was tuned, a limit of 1 GiB
    kept a scorer (0.55 GB after loading the model) trimming every few batches, about 10%
    slower, and one check per chunk let the same run reach 2.0 GB.
    """
    size = resident_bytes()
    if size is None or size <= limit:
        return False
    return release_free_memory()

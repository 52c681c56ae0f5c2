"""Tests for monitor.score.memory."""

from __future__ import annotations

import sys

import pytest

from monitor.score.memory import release_free_memory, resident_bytes, trim_if_above


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim and /proc")
def test_freed_fragmented_heap_goes_back_to_the_os() -> None:
    # many mid-sized blocks (below the mmap threshold) with every other one kept alive leave
    # the heap fragmented; freeing the rest and trimming must give pages back
    blocks = [bytearray(64 * 1024) for _ in range(3000)]  # ~190 MB on the heap
    keep = blocks[::50]
    del blocks
    before = _rss_kib()
    assert release_free_memory() is True
    after = _rss_kib()
    assert before - after > 50 * 1024, (before, after)  # more than 50 MB returned
    assert len(keep) == 60


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim and /proc")
def test_trim_only_above_the_limit() -> None:
    size = resident_bytes()
    assert size is not None and size > 10 * 1024 * 1024  # a Python process with pytest loaded
    assert trim_if_above(size * 4) is False
    assert trim_if_above(1024) is True

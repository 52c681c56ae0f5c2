"""File permissions that bind for root too: a child process drops the capabilities that let
root read and write past them (CI runs as root, where ``chmod`` alone blocks nothing)."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def drop_file_permission_override() -> None:
    """In the child: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set, so
    root after exec obeys file permissions like everybody else (exit 97 when it cannot)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            os._exit(97)


def permissions_bind() -> Callable[[], None] | None:
    """The ``preexec_fn`` that makes permissions bind in a child process (None unless root)."""
    return drop_file_permission_override if os.geteuid() == 0 else None

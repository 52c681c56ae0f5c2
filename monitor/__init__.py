"""emomon: watch social-media text streams, score emotions, raise alerts for human review.

``from monitor import Emomon`` is the Python API (:mod:`monitor.api`); it is imported on first
use, so ``import monitor.cli`` stays light.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from monitor.version import __version__

if TYPE_CHECKING:
    from monitor.api import Emomon

# oneDNN caches a compiled kernel for every new tensor shape; with dynamic padding almost every
# batch has a new shape and the cache alone grew past 1 GB over 200,000 posts. The cap must be
# in the environment before torch sets oneDNN up, so it is set here, on first import.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")

__all__ = ["Emomon", "__version__"]


def __getattr__(name: str) -> Any:
    """Import :class:`monitor.api.Emomon` on first use (PEP 562)."""
    if name == "Emomon":
        from monitor.api import Emomon

        return Emomon
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")

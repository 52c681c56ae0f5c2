"""emomon: watch social-media text streams, score emotions, raise alerts for human review."""

import os

# oneDNN caches a compiled kernel for every new tensor shape; with dynamic padding almost every
# batch has a new shape and the cache alone grew past 1 GB over 200,000 posts. The cap must be
# in the environment before torch sets oneDNN up, so it is set here, on first import.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")

__version__ = "0.1.0"

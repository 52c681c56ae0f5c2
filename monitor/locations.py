"""What a source location is: an http(s) URL, a glob pattern, or a path. A leaf: imports nothing of emomon.

The settings (which check a source's location against its kind), the readers and the command line all
ask here, so that one location means the same thing everywhere.
"""

from __future__ import annotations

import glob

_URL_SCHEMES = ("http://", "https://")


def is_url(location: str) -> bool:
    """True for http(s) URLs, the scheme in any case (``HTTPS://`` too); anything else is a local path."""
    return location[:8].lower().startswith(_URL_SCHEMES)


def is_glob(location: str) -> bool:
    """Whether a location is a glob pattern (``*``, ``?`` or ``[``) rather than one path."""
    return glob.has_magic(location)

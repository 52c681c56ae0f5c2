"""emomon: watch social-media text streams, score emotions, raise alerts for human review."""

__version__ = "0.1.0"

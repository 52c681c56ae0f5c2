"""emomon's version, in a leaf module: code anywhere in the package (such as a feed request's User-Agent)
reads it here without importing the package's front door."""

__version__ = "0.1.0"

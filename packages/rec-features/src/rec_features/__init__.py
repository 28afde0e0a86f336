"""Feature types, the open feature-generation engine and embedding configs for rec."""

from importlib.metadata import version as _version

__version__ = _version("rec-features")

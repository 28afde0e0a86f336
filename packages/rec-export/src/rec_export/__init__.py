"""Model export and serving (Predictor) for rec."""

from importlib.metadata import version as _version

__version__ = _version("rec-export")

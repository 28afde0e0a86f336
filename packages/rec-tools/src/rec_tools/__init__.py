"""Feature selection, config migration, indexes and benchmarks for rec."""

from importlib.metadata import version as _version

__version__ = _version("rec-tools")

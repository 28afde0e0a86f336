"""Config schema, plugin registry, Batch contract, logging and file systems for rec."""

from importlib.metadata import version as _version

__version__ = _version("rec-core")

"""Modules, embedding groups, models, losses, metrics and optimizers for rec."""

from importlib.metadata import version as _version

__version__ = _version("rec-models")

"""Readers, writers, datasets, samplers and synthetic data for rec."""

from importlib.metadata import version as _version

__version__ = _version("rec-data")

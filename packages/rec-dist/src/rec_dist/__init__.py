"""Distributed training, evaluation, prediction and checkpoints for rec."""

from importlib.metadata import version as _version

__version__ = _version("rec-dist")

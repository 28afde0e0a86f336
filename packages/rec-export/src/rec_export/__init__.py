"""Model export and serving (Predictor) for rec."""

from importlib.metadata import version as _version
from typing import Any

__version__ = _version("rec-export")
__all__ = ["Predictor", "__version__"]


def __getattr__(name: str) -> Any:
    # imported on first use so `import rec_export` stays light
    if name == "Predictor":
        from rec_export.predictor import Predictor

        return Predictor
    raise AttributeError(name)

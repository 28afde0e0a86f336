"""INPUT_TILE=2: user-side features arrive once per request and are tiled to the batch in the model.

A request scores one user against B items: user features come with 1 row, item and context
features with B rows. The exported model repeats the user rows B times before the embedding
lookups, so predictions equal those of the same rows sent untiled, and it passes inputs that
already have B rows through unchanged (offline prediction sends whole rows).
"""

from collections.abc import Sequence
from typing import Dict, List, Tuple

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_features.features.base import BaseFeature
from rec_export.packing import has_weights, input_keys


def is_user_feature(feature: BaseFeature) -> bool:
    """True when every raw input of the feature is on the user side."""
    sides = [side for side, _ in feature.side_inputs]
    return bool(sides) and all(side == "user" for side in sides)


def _rows_key(feature: BaseFeature) -> str:
    """The input whose first dimension counts the feature's rows."""
    return f"{feature.name}.lengths" if feature.is_sparse or feature.is_sequence else feature.name


@torch.fx.wrap
def tile_rows(x: torch.Tensor, rows: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """`x` repeated batch-size times along dim 0 when its feature came with one row, else `x`."""
    b = batch.size(0)
    if rows.size(0) == b:
        return x
    reps = [b] + [1] * (x.dim() - 1)
    return x.repeat(reps)


class TileWrapper(nn.Module):
    """Wraps the flat-input model: tiles the user features' inputs, then calls it."""

    def __init__(self, inner: nn.Module, features: Sequence[BaseFeature]) -> None:
        super().__init__()
        self.inner = inner
        weights = has_weights(features)
        user = [f for f in features if is_user_feature(f)]
        others = [f for f in features if not is_user_feature(f)]
        if not user or not others:
            raise ConfigError("INPUT_TILE", "needs both user-side and item/context-side features; the model has "
                              f"{len(user)} user and {len(others)} other features")
        self.batch_key = _rows_key(others[0])
        self.tiled: List[Tuple[str, str]] = [(k, _rows_key(f)) for f in user for k in input_keys(f, weights)]
        self.passed: List[str] = [k for f in others for k in input_keys(f, weights)]
        self.user_features = [f.name for f in user]

    # no `from __future__ import annotations` here: TorchScript reads this signature from the FX code
    def forward(self, data: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:  # noqa: UP006
        """Predictions for user inputs of one row (or B rows) and other inputs of B rows."""
        batch = data[self.batch_key]
        tiled: dict[str, torch.Tensor] = {k: data[k] for k in self.passed}
        for key, rows_key in self.tiled:
            tiled[key] = tile_rows(data[key], data[rows_key], batch)
        return self.inner(tiled)

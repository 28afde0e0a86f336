"""MLP: stacked Linear layers with optional batch/layer norm, activation and dropout."""

# No `from __future__ import annotations`: an FX trace rooted at one of these modules copies
# its forward annotations, and TorchScript cannot resolve them when they are strings.

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from rec_core.errors import ConfigError


def create_activation(name: str, where: str = "activation") -> nn.Module:
    """An activation module from a name such as `nn.ReLU`, `ReLU` or `nn.LeakyReLU(0.2)`."""
    spec = name.strip() or "nn.ReLU"
    cls_name, _, arg_str = spec.partition("(")
    cls = getattr(nn, cls_name.rsplit(".", 1)[-1], None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise ConfigError(where, f"unknown activation {name!r}; expected a torch.nn module name like nn.ReLU")
    try:
        args = [float(a) for a in arg_str.rstrip(")").split(",") if a.strip()]
        return cls(*args)
    except (TypeError, ValueError) as e:
        raise ConfigError(where, f"cannot build activation {name!r}: {e}") from e


class MLP(nn.Module):
    """Linear -> [BatchNorm|LayerNorm] -> activation -> [Dropout], once per hidden unit count."""

    def __init__(
        self,
        in_features: int,
        hidden_units: Sequence[int],
        dropout_ratio: Sequence[float] | float = 0.0,
        activation: str = "nn.ReLU",
        use_bn: bool = False,
        use_ln: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if not hidden_units:
            raise ConfigError("hidden_units", "an MLP needs at least one hidden unit count")
        ratios = [dropout_ratio] * len(hidden_units) if isinstance(dropout_ratio, (int, float)) else list(dropout_ratio)
        if len(ratios) == 1:
            ratios = ratios * len(hidden_units)
        if ratios and len(ratios) != len(hidden_units):
            raise ConfigError("dropout_ratio", f"expected 1 or {len(hidden_units)} values, got {len(ratios)}")
        layers: list[nn.Module] = []
        width = in_features
        for i, units in enumerate(hidden_units):
            layers.append(nn.Linear(width, units, bias=bias and not use_bn))
            if use_bn:
                layers.append(nn.BatchNorm1d(units))
            if use_ln:
                layers.append(nn.LayerNorm(units))
            layers.append(create_activation(activation))
            if ratios and ratios[i] > 0:
                layers.append(nn.Dropout(ratios[i]))
            width = units
        self.layers = nn.Sequential(*layers)
        self.output_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_features] -> [B, hidden_units[-1]]."""
        return self.layers(x)

    @classmethod
    def from_config(cls, in_features: int, config: Any) -> "MLP":  # noqa: UP037
        """Build from an MLP proto message."""
        return cls(
            in_features,
            list(config.hidden_units),
            list(config.dropout_ratio) or 0.0,
            config.activation,
            config.use_bn,
            config.use_ln,
            config.bias,
        )

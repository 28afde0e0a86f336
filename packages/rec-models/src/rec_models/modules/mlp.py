"""MLP: stacked Linear layers with optional batch/layer norm, activation (incl. Dice) and dropout."""

# No `from __future__ import annotations`: an FX trace rooted at one of these modules copies
# its forward annotations, and TorchScript cannot resolve them when they are strings.

from collections.abc import Sequence
from typing import Any, List

import torch
from torch import nn

from rec_core.errors import ConfigError


class Dice(nn.Module):
    """DIN's data-adaptive activation: p * x + (1 - p) * alpha * x with p = sigmoid(BN(x)).

    alpha is learned per unit; the batch norm has no affine part (it only sets where the
    switch between the two slopes sits), with running statistics for inference.
    """

    def __init__(self, dim: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim, eps=eps, affine=False)
        self.alpha = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, dim] -> [B, dim]."""
        p = torch.sigmoid(self.bn(x))
        return x * (p + (1 - p) * self.alpha)


def _parse_args(arg_str: str) -> tuple[list[float], dict[str, float]]:
    args: list[float] = []
    kwargs: dict[str, float] = {}
    for part in arg_str.rstrip(")").split(","):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        if eq:
            kwargs[key.strip()] = float(value)
        else:
            args.append(float(part))
    return args, kwargs


def create_activation(name: str, where: str = "activation", dim: int | None = None) -> nn.Module:
    """An activation from `nn.ReLU`, `ReLU`, `nn.LeakyReLU(0.2)`, `nn.ELU(alpha=0.5)` or `Dice`.

    `Dice` learns per-unit parameters, so it needs the layer width `dim`.
    """
    spec = name.strip() or "nn.ReLU"
    cls_name, _, arg_str = spec.partition("(")
    short = cls_name.rsplit(".", 1)[-1]
    if short == "Dice":
        if dim is None:
            raise ConfigError(where, "Dice needs the layer width; use it inside an MLP")
        return Dice(dim)
    cls = getattr(nn, short, None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise ConfigError(where, f"unknown activation {name!r}; expected a torch.nn module name like nn.ReLU, or Dice")
    try:
        args, kwargs = _parse_args(arg_str)
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(where, f"cannot build activation {name!r}: {e}") from e


@torch.fx.wrap
def _restore_leading_dims(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # a leaf call under FX: the shape arithmetic stays out of the traced graph
    shape: List[int] = list(x.shape[:-1])
    shape.append(y.size(-1))
    return y.reshape(shape)


class MLP(nn.Module):
    """Linear -> [BatchNorm|LayerNorm] -> activation -> [Dropout], once per hidden unit count.

    Inputs may have leading dimensions beyond the batch ([B, T, D]); batch norm and Dice then
    normalise over every leading position.
    """

    def __init__(
        self,
        in_features: int,
        hidden_units: Sequence[int],
        dropout_ratio: Sequence[float] | float = 0.0,
        activation: str = "nn.ReLU",
        use_bn: bool = False,
        use_ln: bool = False,
        bias: bool = True,
        where: str = "mlp",
    ) -> None:
        super().__init__()
        if not hidden_units:
            raise ConfigError(f"{where}.hidden_units", "an MLP needs at least one hidden unit count")
        ratios = [dropout_ratio] * len(hidden_units) if isinstance(dropout_ratio, (int, float)) else list(dropout_ratio)
        if len(ratios) == 1:
            ratios = ratios * len(hidden_units)
        if ratios and len(ratios) != len(hidden_units):
            raise ConfigError(f"{where}.dropout_ratio", f"expected 1 or {len(hidden_units)} values, got {len(ratios)}")
        for i, r in enumerate(ratios):
            if not 0.0 <= r < 1.0:
                raise ConfigError(f"{where}.dropout_ratio[{i}]", f"must be in [0, 1), got {r}")
        layers: list[nn.Module] = []
        ends: list[int] = []
        width = in_features
        for i, units in enumerate(hidden_units):
            layers.append(nn.Linear(width, units, bias=bias and not use_bn))
            if use_bn:
                layers.append(nn.BatchNorm1d(units))
            if use_ln:
                layers.append(nn.LayerNorm(units))
            layers.append(create_activation(activation, f"{where}.activation", units))
            if ratios and ratios[i] > 0:
                layers.append(nn.Dropout(ratios[i]))
            ends.append(len(layers) - 1)
            width = units
        self.layers = nn.Sequential(*layers)
        self.hidden_dims = list(hidden_units)
        self._ends = ends
        self.in_features = in_features
        self.output_dim = width
        # BatchNorm1d reads [N, C] rows; other layers act on the last dimension of any shape
        self._flatten = any(isinstance(m, (nn.BatchNorm1d, Dice)) for m in layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[..., in_features] -> [..., hidden_units[-1]]."""
        if self._flatten:
            return _restore_leading_dims(self.layers(x.reshape(-1, self.in_features)), x)
        return self.layers(x)

    def hidden_outputs(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The output of every hidden layer, first to last (the last is `forward`'s result)."""
        flat = x.reshape(-1, self.in_features) if self._flatten else x
        outputs: List[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            flat = layer(flat)
            if i in self._ends:
                outputs.append(_restore_leading_dims(flat, x) if self._flatten else flat)
        return outputs

    @classmethod
    def from_config(cls, in_features: int, config: Any, where: str = "mlp") -> "MLP":  # noqa: UP037
        """Build from an MLP proto message; `where` names it in errors (e.g. model_config.deepfm.deep)."""
        return cls(
            in_features,
            list(config.hidden_units),
            list(config.dropout_ratio) or 0.0,
            config.activation,
            config.use_bn,
            config.use_ln,
            config.bias,
            where,
        )

"""A custom_feature operator for rec, registered in rec.features as `custom_feature.Clip`."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rec_features.custom_ops import CustomOperator

__all__ = ["Clip"]


class Clip(CustomOperator):
    """The first input as numbers, limited to [`lower`, `upper`] (either may be left out); null stays null."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        unknown = set(params) - {"lower", "upper"}
        if unknown:
            raise ValueError(f"Clip takes operator_params lower and upper, not {sorted(unknown)}")
        self.lower = _number(params, "lower")
        self.upper = _number(params, "upper")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"Clip lower {self.lower} is above upper {self.upper}")

    def __call__(self, inputs: list[pa.Array]) -> pa.Array:
        values = pc.cast(inputs[0], pa.float64())
        if self.lower is not None:
            values = pc.max_element_wise(values, pa.scalar(self.lower), skip_nulls=False)
        if self.upper is not None:
            values = pc.min_element_wise(values, pa.scalar(self.upper), skip_nulls=False)
        return values


def _number(params: dict[str, Any], key: str) -> float | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"Clip {key} must be a number, got {value!r}")
    return float(value)

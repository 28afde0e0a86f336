"""combine_feature: the values of one input mapped to numbers and combined (sum/mean/min/max/count)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_features.bucketize import COMBINE_ORDER
from rec_features.features.bucketized import BucketizedFeature
from rec_features.tokens import segment_reduce
from rec_features.values import FeatureValues

COMBINERS = ("sum", "mean", "avg", "min", "max", "count")


def check_combiner(feature: BucketizedFeature) -> str:
    """The feature's combiner (`avg` is `mean`), or a ConfigError listing the known ones."""
    combiner = (feature.config.combiner or "sum").lower()
    if combiner not in COMBINERS:
        raise ConfigError(feature.field_path("combiner"), f"unknown combiner {combiner!r}; expected one of {', '.join(COMBINERS)}")
    return "mean" if combiner == "avg" else combiner


class CombineFeature(BucketizedFeature):
    """Each value of the input is mapped by `value_map` (or read as a number when unmapped), then
    the row's values are combined into one number; rows without values get 0. Dense, or
    bucketized by `num_buckets` (the number truncated to an id) or `boundaries`.
    """

    config_name = "combine_feature"
    computes_numbers = True
    bucket_order = COMBINE_ORDER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.combiner = check_combiner(self)
        self._map_keys = pa.array(list(self.config.value_map.keys()), pa.string())
        self._map_values = np.asarray(list(self.config.value_map.values()), np.float64)

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        col = self.column(columns, self.inputs[0])
        tokens, lengths = self.input_tokens(col, self.config.separator or "\x1d", self.config.default_value)
        values = self._numbers(tokens)
        return self.numeric_output(segment_reduce(values, lengths, self.combiner).reshape(-1, 1))

    def _numbers(self, tokens: pa.Array) -> np.ndarray:
        if not len(self._map_keys):
            return self.floats(tokens)
        pos = np.asarray(pc.fill_null(pc.index_in(pc.cast(tokens, pa.string()), value_set=self._map_keys), -1), np.int64)
        out = np.empty(len(tokens), np.float64)
        mapped = pos >= 0
        out[mapped] = self._map_values[pos[mapped]]
        if not mapped.all():
            out[~mapped] = self.floats(tokens.filter(pa.array(~mapped)))
        return out

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("combine_feature", "int64" if self.bucketizer.kind == "num_buckets" else "float")
        out.update(
            expression=c.expression, default_value=c.default_value, separator=c.separator or "\x1d", combiner=self.combiner
        )
        if len(c.value_map):
            out["value_map"] = {k: float(v) for k, v in c.value_map.items()}
        return out

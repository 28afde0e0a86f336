"""lookup_feature: the values a row's keys find in the row's key-value map, as numbers or ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_features.bucketize import LOOKUP_ORDER
from rec_features.errors import InvalidFgInputError
from rec_features.features.bucketized import BucketizedFeature
from rec_features.features.combine_feature import check_combiner
from rec_features.tokens import fill_empty, kv_entries, lookup_in_rows, row_of, segment_reduce
from rec_features.values import FeatureValues


class LookupFeature(BucketizedFeature):
    """`map` holds `k:v` entries (`k1:v1<separator>k2:v2` text, or a map column); `key` holds one or
    more keys. Each key found in the same row's map contributes its value.

    Continuous (default): values are numbers (vectors of `value_dim` numbers split on
    `value_separator`), combined per row by `combiner`; a row without hits gets `default_value`.
    `need_discrete`: values are tokens (prefixed `key_` with `need_key`) bucketized to ids; a row
    without hits gets `default_value` as its token.
    """

    config_name = "lookup_feature"
    bucket_order = LOOKUP_ORDER
    value_dim_is_width = True
    fg_json_aliases = {"needDiscrete": "need_discrete", "needKey": "need_key"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        self.combiner = check_combiner(self)
        if c.need_discrete and not self.is_sparse:
            raise ConfigError(self.field_path("need_discrete"), "discrete lookup values need a bucketizer (hash_bucket_size, num_buckets, vocab_*, boundaries)")
        if c.need_discrete and self.value_dim > 1:
            raise ConfigError(self.field_path("value_dim"), "value_dim > 1 is for continuous lookups")
        if not c.need_discrete:
            self.default_vector = self.numeric_default(c.value_separator or ",")

    @property
    def input_expressions(self) -> list[str]:
        return [self.config.map, self.config.key]

    def hits(self, columns: dict[str, pa.Array]) -> tuple[pa.Array, pa.Array, np.ndarray]:
        """The keys that found a value, their values (text) and the hit count of every row."""
        c = self.config
        separator = c.separator or "\x1d"
        map_rows, map_keys, map_values = kv_entries(self.column(columns, self.inputs[0]), separator, ":")
        keys, key_lengths = self.input_tokens(self.column(columns, self.inputs[1]), separator, "")
        pos = lookup_in_rows(map_rows, map_keys, row_of(key_lengths), keys)
        found = pos >= 0
        values = map_values.take(pa.array(pos[found]))
        # a key listed without a value (`k` alone) is not a hit
        has_value = np.asarray(pc.fill_null(pc.not_equal(values, ""), False), bool)
        found[np.flatnonzero(found)[~has_value]] = False
        lengths = np.bincount(row_of(key_lengths)[found], minlength=len(key_lengths)).astype(np.int32)
        return keys.filter(pa.array(found)), values.filter(pa.array(has_value)), lengths

    @property
    def computes_numbers(self) -> bool:  # type: ignore[override]
        return not self.config.need_discrete

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        c = self.config
        keys, values, lengths = self.hits(columns)
        if c.need_discrete:
            if c.need_key:
                values = pc.binary_join_element_wise(pc.cast(keys, pa.string()), values, "_")
            return self.sparse_output(*fill_empty(values, lengths, c.default_value))
        dim = self.value_dim
        vectors = self.floats(pc.list_flatten(pc.split_pattern(values, c.value_separator or ","))) if dim > 1 else self.floats(values)
        if vectors.size != len(values) * dim:
            raise self.width_error(values, dim, c.value_separator or ",")
        combined = segment_reduce(vectors.reshape(-1, dim), lengths, self.combiner)
        combined[lengths == 0] = self.default_vector
        return self.numeric_output(combined)

    def width_error(self, values: pa.Array, dim: int, separator: str) -> InvalidFgInputError:
        """An error naming the first looked-up value that is not `dim` numbers wide."""
        counts = np.asarray(pc.list_value_length(pc.split_pattern(values, separator)), np.int64)
        bad = values[int(np.flatnonzero(counts != dim)[0])].as_py()
        return InvalidFgInputError(self.name, f"looked-up value {bad!r} does not hold {dim} numbers split by {separator!r}")

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("lookup_feature", "string" if c.need_discrete else "float")
        out.update(
            map=c.map,
            key=c.key,
            default_value=c.default_value,
            separator=c.separator or "\x1d",
            needDiscrete=bool(c.need_discrete),
            needKey=bool(c.need_key),
            combiner="" if c.need_discrete else self.combiner,
        )
        if self.value_dim > 1:
            out["value_separator"] = c.value_separator or ","
        return out

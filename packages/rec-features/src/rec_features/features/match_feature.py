"""match_feature: values of a two-level map (primary key, secondary key) picked by a row's keys."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_features import arrow_ops
from rec_features.bucketize import LOOKUP_ORDER
from rec_features.features.bucketized import BucketizedFeature
from rec_features.tokens import fill_empty, row_keys, split_pairs
from rec_features.values import FeatureValues

ALL = "ALL"


class MatchFeature(BucketizedFeature):
    """`nested_map` holds `pk1^sk1:v1,sk2:v2|pk2^sk3:v3` text (or a map column `pk -> "sk:v,sk:v"`).

    An entry matches when its primary key is one of the row's `pkey` values and its secondary
    key one of the row's `skey` values; either key may be `ALL` (every key matches: multihit).
    Matches keep the map's order. `need_discrete`: the matched values are tokens (prefixed
    `pk_` / `sk_` with `show_pkey` / `show_skey`) bucketized to ids. Continuous: the first
    matched value, as a number; rows without a match get `default_value`.
    """

    config_name = "match_feature"
    bucket_order = LOOKUP_ORDER
    value_dim_is_width = True
    fg_json_aliases = {
        "user": "nested_map", "category": "pkey", "item": "skey", "needDiscrete": "need_discrete",
        "show_category": "show_pkey", "show_item": "show_skey",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        if c.need_discrete and not self.is_sparse:
            raise ConfigError(self.field_path("need_discrete"), "discrete match values need a bucketizer (hash_bucket_size, num_buckets, vocab_*, boundaries)")
        if self.value_dim != 1:
            raise ConfigError(self.field_path("value_dim"), "a match feature gives one value per match")
        if not c.need_discrete:
            self.default_vector = self.numeric_default(",")

    @property
    def input_expressions(self) -> list[str]:
        c = self.config
        return [c.nested_map] + [e for e in (c.pkey, c.skey) if e != ALL]

    def entries(self, col: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array, pa.Array]:
        """Every (row, primary key, secondary key, value) of a nested-map column, in map order."""
        if arrow_ops.is_map(col.type):
            keys, items = arrow_ops.map_lists(col)
            rows = np.asarray(pc.list_parent_indices(keys), np.int64)
            pks, inner = pc.cast(pc.list_flatten(keys), pa.string()), pc.cast(pc.list_flatten(items), pa.string())
        else:
            outer = pc.split_pattern(col, "|")
            rows = np.asarray(pc.list_parent_indices(outer), np.int64)
            pks, inner, _ = split_pairs(pc.list_flatten(outer), "^")
        pairs = pc.split_pattern(inner, ",")
        rows = rows[np.asarray(pc.list_parent_indices(pairs), np.int64)]
        parent = pa.array(np.asarray(pc.list_parent_indices(pairs), np.int64))
        sks, values, has_value = split_pairs(pc.list_flatten(pairs), ":")
        keep = has_value & np.asarray(pc.fill_null(pc.is_valid(pks.take(parent)), False), bool)
        mask = pa.array(keep)
        return rows[keep], pks.take(parent).filter(mask), sks.filter(mask), values.filter(mask)

    def _selected(self, columns: dict[str, pa.Array], key: str, rows: np.ndarray, keys: pa.Array) -> np.ndarray:
        """Mask of the entries whose key is one of the row's values of input `key` (or all, for ALL)."""
        if key == ALL:
            return np.ones(len(keys), bool)
        wanted, lengths = self.input_tokens(self.column(columns, self.inputs[self.input_expressions.index(key)]), self.config.separator or "\x1d", "")
        wanted_rows = np.repeat(np.arange(len(lengths)), lengths)
        hit = pc.is_in(row_keys(rows, keys), value_set=row_keys(wanted_rows, wanted))
        return np.asarray(pc.fill_null(hit, False), bool)

    @property
    def computes_numbers(self) -> bool:  # type: ignore[override]
        return not self.config.need_discrete

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        c = self.config
        nested = self.column(columns, self.inputs[0])
        rows, pks, sks, values = self.entries(nested)
        hit = self._selected(columns, c.pkey, rows, pks) & self._selected(columns, c.skey, rows, sks)
        hit &= np.asarray(pc.fill_null(pc.not_equal(values, ""), False), bool)
        mask = pa.array(hit)
        rows, values = rows[hit], values.filter(mask)
        lengths = np.bincount(rows, minlength=len(nested)).astype(np.int32)
        if c.need_discrete:
            prefixes = [p.filter(mask) for p, show in ((pks, c.show_pkey), (sks, c.show_skey)) if show]
            if prefixes:
                values = pc.binary_join_element_wise(*prefixes, values, "_")
            return self.sparse_output(*fill_empty(values, lengths, c.default_value))
        out = np.tile(self.default_vector, (len(nested), 1))
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, np.int64)
        out[rows[first], 0] = self.floats(values.take(pa.array(first)))
        return self.numeric_output(out)

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("match_feature", "string" if c.need_discrete else "float")
        multihit = ALL in (c.pkey, c.skey)
        out.update(
            user=c.nested_map,
            category=c.pkey,
            item=c.skey,
            matchType="multihit" if multihit else "hit",
            default_value=c.default_value,
            separator=c.separator or "\x1d",
            needDiscrete=bool(c.need_discrete),
            show_category=bool(c.show_pkey),
            show_item=bool(c.show_skey),
        )
        return out

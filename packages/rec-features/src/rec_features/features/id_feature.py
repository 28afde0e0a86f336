"""id_feature: categorical ids (single or multi-value, optionally weighted) bucketized to a table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_features import arrow_ops
from rec_features.errors import InvalidFgInputError
from rec_features.features.base import BaseFeature, check_range
from rec_features.hashing import hash_bucket
from rec_features.values import SparseValues

OOV = "<OOV>"

# Bucketizers in TorchEasyRec's priority order (the first one set wins).
_BUCKETIZERS = ("hash_bucket_size", "vocab_list", "vocab_dict", "vocab_file", "num_buckets")


class IdFeature(BaseFeature):
    """Ids from one input; bucketized by hash_bucket_size, vocab_list, vocab_dict or num_buckets."""

    config_name = "id_feature"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        for field in ("zch", "dynamicemb"):
            if c.HasField(field):
                raise ConfigError(self.field_path(field), f"{field} is not supported by rec yet")
        if self.bucketizer == "vocab_file":
            raise ConfigError(self.field_path("vocab_file"), "vocab_file is not supported by rec yet; use vocab_list")
        if not self.bucketizer:
            raise ConfigError(
                self.field_path("hash_bucket_size"),
                "an id feature needs one of hash_bucket_size, vocab_list, vocab_dict or num_buckets",
            )
        if self._has_default_bucket and self.bucketizer != "hash_bucket_size":
            dbv = int(c.default_bucketize_value)
            if not 0 <= dbv < self.num_embeddings:
                raise ConfigError(
                    self.field_path("default_bucketize_value"),
                    f"{dbv} is outside the table [0, {self.num_embeddings}) set by {self.bucketizer}",
                )
        # vocab_dict ids as an Arrow lookup: keys in one array, ids aligned with it
        self._dict_keys = pa.array(list(c.vocab_dict.keys()), pa.string())
        self._dict_ids = np.asarray(list(c.vocab_dict.values()), dtype=np.int64)

    @property
    def is_sparse(self) -> bool:
        return True

    @property
    def weighted(self) -> bool:
        """True when each id carries a weight (`id:weight` tokens or a map input)."""
        return bool(getattr(self.config, "weighted", False))

    @property
    def bucketizer(self) -> str:
        """The config field that maps values to ids (the first set, in TorchEasyRec's priority)."""
        c = self.config
        for field in _BUCKETIZERS:
            value = getattr(c, field)
            if (len(value) if field in ("vocab_list", "vocab_dict") else value):
                return field
        return ""

    @property
    def _has_default_bucket(self) -> bool:
        return self.config.HasField("default_bucketize_value")

    @property
    def num_embeddings(self) -> int:
        c = self.config
        kind = self.bucketizer
        if kind == "hash_bucket_size":
            return int(c.hash_bucket_size)
        if kind == "vocab_list":
            # without default_bucketize_value the table is [default_value, <OOV>, *vocab_list]
            return len(c.vocab_list) + (0 if self._has_default_bucket else 2)
        if kind == "vocab_dict":
            top = max(int(v) for v in c.vocab_dict.values()) + 1
            # ids 0 (default_value) and 1 (OOV) exist even when the dict does not use them
            return top if self._has_default_bucket else max(top, 2)
        if kind == "num_buckets":
            return int(c.num_buckets)
        raise ConfigError(self.field_path("hash_bucket_size"), "no bucketizer is set")

    def _fg(self, columns: dict[str, pa.Array]) -> SparseValues:
        col = self.column(columns, self.inputs[0])
        separator = self.config.separator or "\x1d"
        if arrow_ops.is_map(col.type):
            # a map input is `id -> weight` pairs: keys are the values, items their weights
            keys, items = arrow_ops.map_lists(col)
            tokens, lengths, weights = self._map_tokens(self._as_text(keys), items, self.config.default_value, separator)
            return SparseValues(self._bucketize(tokens, lengths), lengths, weights)
        col = self.fill_default(self._as_text(col), self.config.default_value, separator)
        tokens, lengths = arrow_ops.flatten_non_empty(arrow_ops.to_token_lists(col, separator))
        weights = None
        if self.weighted and arrow_ops.is_string(tokens.type):
            tokens, weights = self._split_weights(tokens)
        return SparseValues(self._bucketize(tokens, lengths), lengths, weights)

    def _map_tokens(
        self, keys: pa.Array, items: pa.Array, default: str, separator: str
    ) -> tuple[pa.Array, np.ndarray, np.ndarray | None]:
        """Values from map keys, weights from its items; a null row takes the default values, weight 1."""
        if default:
            keys = self.fill_default(keys, default, separator)
            items = self.fill_default(items, separator.join(["1"] * len(default.split(separator))), separator)
        tokens, lengths = arrow_ops.flatten_non_empty(keys)
        weights = self._map_weights(keys, items) if self.weighted else None
        return tokens, lengths, weights

    def _as_text(self, col: pa.Array) -> pa.Array:
        """Non-string values as decimal text, as pyfg renders them before hashing or vocab lookup.

        Integer ids under num_buckets stay integers: they are ids already, and no text is needed.
        """
        is_list = arrow_ops.is_list(col.type)
        value_type = col.type.value_type if is_list else col.type
        if arrow_ops.is_string(value_type):
            return col
        if self.bucketizer == "num_buckets" and pa.types.is_integer(value_type):
            return col
        return pc.cast(col, pa.list_(pa.string()) if is_list else pa.string())

    def _map_weights(self, keys: pa.Array, items: pa.Array) -> np.ndarray:
        """Weights of the map entries kept by `flatten_non_empty` (null/empty keys dropped)."""
        flat_keys = pc.list_flatten(keys)
        keep = pc.is_valid(flat_keys)
        if arrow_ops.is_string(flat_keys.type):
            keep = pc.fill_null(pc.and_(keep, pc.not_equal(flat_keys, "")), False)
        flat_items = pc.filter(pc.list_flatten(items), keep)
        return np.asarray(pc.fill_null(pc.cast(flat_items, pa.float32()), 1.0), dtype=np.float32)

    def _split_weights(self, tokens: pa.Array) -> tuple[pa.Array, np.ndarray]:
        parts = pc.split_pattern(pc.cast(tokens, pa.string()), ":", max_splits=1)
        keys = pc.list_element(parts, 0)
        has_weight = pc.greater(pc.list_value_length(parts), 1)
        raw_w = pc.if_else(has_weight, pc.list_slice(parts, 1, 2), pa.scalar(["1"], pa.list_(pa.string())))
        try:
            weights = np.asarray(pc.cast(pc.list_flatten(raw_w), pa.float32()), dtype=np.float32)
        except pa.ArrowInvalid as e:
            raise InvalidFgInputError(self.name, f"weights must be numbers in `id:weight` tokens: {e}") from e
        return keys, weights

    def _bucketize(self, tokens: pa.Array, lengths: np.ndarray) -> np.ndarray:
        c = self.config
        kind = self.bucketizer
        if kind == "hash_bucket_size":
            return hash_bucket(tokens, int(c.hash_bucket_size))
        if kind == "vocab_list":
            return self._vocab_ids(pc.cast(tokens, pa.string()))
        if kind == "vocab_dict":
            return self._dict_ids_of(pc.cast(tokens, pa.string()))
        ids = self._as_ints(tokens)
        if self._has_default_bucket:
            ids = np.where((ids < 0) | (ids >= c.num_buckets), c.default_bucketize_value, ids)
        check_range(self.name, ids, lengths, int(c.num_buckets), "num_buckets")
        return ids

    def _vocab_ids(self, tokens: pa.Array) -> np.ndarray:
        vocab = pa.array(list(self.config.vocab_list), pa.string())
        idx = pc.index_in(tokens, value_set=vocab)
        if self._has_default_bucket:
            return np.asarray(pc.fill_null(idx, int(self.config.default_bucketize_value)), dtype=np.int64)
        # effective vocabulary is [default_value, <OOV>, *vocab_list]; a listed default keeps its slot
        is_default = pc.equal(tokens, self.config.default_value)
        unlisted = pc.if_else(is_default, 0, 1)
        return np.asarray(pc.coalesce(pc.add(idx, 2), unlisted), dtype=np.int64)

    def _dict_ids_of(self, tokens: pa.Array) -> np.ndarray:
        pos = pc.index_in(tokens, value_set=self._dict_keys)
        found = np.asarray(pc.is_valid(pos), dtype=bool)
        ids = np.empty(len(tokens), dtype=np.int64)
        ids[found] = self._dict_ids[np.asarray(pc.drop_null(pos), dtype=np.int64)]
        if self._has_default_bucket:
            ids[~found] = int(self.config.default_bucketize_value)
            return ids
        # default_value maps to 0 (even when listed) and unlisted tokens to 1 (OOV)
        is_default = np.asarray(pc.fill_null(pc.equal(tokens, self.config.default_value), False), dtype=bool)
        ids[~found] = 1
        ids[is_default] = 0
        return ids

    def _as_ints(self, tokens: pa.Array) -> np.ndarray:
        try:
            return np.asarray(pc.cast(tokens, pa.int64()), dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise InvalidFgInputError(self.name, f"expected integer ids without a hash or vocab: {e}") from e

    def _fg_encoded(self, col: pa.Array) -> SparseValues:
        sep = self.fg_encoded_multival_sep
        default = getattr(self.config, "fg_encoded_default_value", "")
        if arrow_ops.is_map(col.type):
            keys, items = arrow_ops.map_lists(col)
            tokens, lengths, weights = self._map_tokens(keys, items, default, sep)
            ids = self._as_ints(tokens)
            check_range(self.name, ids, lengths, self.num_embeddings, "FG-encoded ids")
            return SparseValues(ids, lengths, weights)
        if arrow_ops.is_string(col.type):
            lists = arrow_ops.to_token_lists(self.fill_default(col, default, sep), sep)
        else:
            # a null row of an integer or list column takes the default ids
            lists = self.fill_default(arrow_ops.to_token_lists(col, sep), default, sep)
        tokens, lengths = arrow_ops.flatten_non_empty(lists)
        weights = None
        if self.weighted and arrow_ops.is_string(tokens.type):
            tokens, weights = self._split_weights(tokens)
        ids = self._as_ints(tokens)
        check_range(self.name, ids, lengths, self.num_embeddings, "FG-encoded ids")
        return SparseValues(ids, lengths, weights)

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {
            "feature_type": "id_feature",
            "feature_name": self.name,
            "expression": c.expression,
            "default_value": c.default_value,
            "value_type": "string",
            "separator": c.separator or "\x1d",
            "weighted": self.weighted,
        }
        kind = self.bucketizer
        if kind == "hash_bucket_size":
            out["hash_bucket_size"] = int(c.hash_bucket_size)
        elif kind == "vocab_list":
            out["vocab_list"] = list(c.vocab_list)
        elif kind == "vocab_dict":
            out["vocab_dict"] = {k: int(v) for k, v in c.vocab_dict.items()}
        elif kind == "num_buckets":
            out["num_buckets"] = int(c.num_buckets)
            out["value_type"] = "int64"
        if self._has_default_bucket:
            out["default_bucketize_value"] = int(c.default_bucketize_value)
        if c.HasField("value_dim"):
            out["value_dim"] = int(c.value_dim)
        if c.fg_encoded_default_value:
            # not a pyfg key: FG_NONE parsing needs it to rebuild identical values from fg.json
            out["fg_encoded_default_value"] = c.fg_encoded_default_value
        return out


"""id_feature: categorical ids (single or multi-value, optionally weighted) bucketized to a table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_features import arrow_ops
from rec_features.errors import InvalidFgInputError
from rec_features.features.base import BaseFeature, check_range
from rec_features.hashing import hash_bucket
from rec_features.values import SparseValues

OOV = "<OOV>"


class IdFeature(BaseFeature):
    """Ids from one input; bucketized by hash_bucket_size, vocab_list or num_buckets."""

    config_name = "id_feature"

    @property
    def is_sparse(self) -> bool:
        return True

    @property
    def weighted(self) -> bool:
        """True when each id carries a weight (`id:weight` tokens)."""
        return bool(getattr(self.config, "weighted", False))

    @property
    def _has_default_bucket(self) -> bool:
        return self.config.HasField("default_bucketize_value")

    @property
    def num_embeddings(self) -> int:
        c = self.config
        if c.hash_bucket_size:
            return int(c.hash_bucket_size)
        if len(c.vocab_list):
            return len(c.vocab_list) + (0 if self._has_default_bucket else 2)
        if c.num_buckets:
            return int(c.num_buckets)
        raise InvalidFgInputError(self.name, "needs one of hash_bucket_size, vocab_list or num_buckets")

    def _fg(self, columns: dict[str, pa.Array]) -> SparseValues:
        col = self.column(columns, self.inputs[0])
        col = arrow_ops.fill_default(col, self.config.default_value)
        tokens, lengths = arrow_ops.flatten_non_empty(arrow_ops.to_token_lists(col, self.config.separator or "\x1d"))
        weights = None
        if self.weighted:
            tokens, weights = self._split_weights(tokens)
        return SparseValues(self._bucketize(tokens, lengths), lengths, weights)

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
        if c.hash_bucket_size:
            return hash_bucket(tokens, int(c.hash_bucket_size))
        if len(c.vocab_list):
            return self._vocab_ids(pc.cast(tokens, pa.string()))
        ids = self._as_ints(tokens)
        if c.num_buckets:
            if self._has_default_bucket:
                ids = np.where((ids < 0) | (ids >= c.num_buckets), c.default_bucketize_value, ids)
            check_range(self.name, ids, lengths, int(c.num_buckets), "num_buckets")
        return ids

    def _vocab_ids(self, tokens: pa.Array) -> np.ndarray:
        vocab = pa.array(list(self.config.vocab_list), pa.string())
        idx = pc.index_in(tokens, value_set=vocab)
        if self._has_default_bucket:
            return np.asarray(pc.fill_null(idx, int(self.config.default_bucketize_value)), dtype=np.int64)
        # effective vocabulary is [default_value, <OOV>, *vocab_list]
        is_default = pc.equal(tokens, self.config.default_value)
        unlisted = pc.if_else(is_default, 0, 1)
        return np.asarray(pc.coalesce(pc.add(idx, 2), unlisted), dtype=np.int64)

    def _as_ints(self, tokens: pa.Array) -> np.ndarray:
        try:
            return np.asarray(pc.cast(tokens, pa.int64()), dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise InvalidFgInputError(self.name, f"expected integer ids without a hash or vocab: {e}") from e

    def _fg_encoded(self, col: pa.Array) -> SparseValues:
        default = getattr(self.config, "fg_encoded_default_value", "")
        col = arrow_ops.fill_default(col, default) if arrow_ops.is_string(col.type) else col
        lists = arrow_ops.to_token_lists(col, self.fg_encoded_multival_sep)
        if default and not arrow_ops.is_string(col.type):
            lists = pc.fill_null(lists, pa.scalar([int(x) for x in default.split(self.fg_encoded_multival_sep)], lists.type))
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
        if c.hash_bucket_size:
            out["hash_bucket_size"] = int(c.hash_bucket_size)
        elif len(c.vocab_list):
            out["vocab_list"] = list(c.vocab_list)
        elif c.num_buckets:
            out["num_buckets"] = int(c.num_buckets)
            out["value_type"] = "int64"
        if self._has_default_bucket:
            out["default_bucketize_value"] = int(c.default_bucketize_value)
        if c.HasField("value_dim"):
            out["value_dim"] = int(c.value_dim)
        return out

"""BucketizedFeature: the shared part of feature types whose values may be bucketized into ids.

It owns the feature's `Bucketizer`, turns FG output (tokens or numbers) into `SparseValues` or
`DenseValues`, reads FG-encoded (FG_NONE) columns, and writes the common fg.json keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_features import arrow_ops
from rec_features.bucketize import Bucketizer
from rec_features.errors import InvalidFgInputError
from rec_features.features.base import BaseFeature, check_range
from rec_features.normalizer import parse_normalizer
from rec_features.tokens import truncate
from rec_features.values import DenseValues, FeatureValues, SparseValues


class BucketizedFeature(BaseFeature):
    """A feature whose output is ids (a bucketizer is set) or a dense vector (none is set).

    Subclasses set `bucket_order` (the bucketizer fields of their config, in priority order) and
    `requires_bucketizer` for types that are always sparse.
    """

    bucket_order: tuple[str, ...] = ()
    requires_bucketizer = False
    # pyfg's fg.json key -> config field, for types whose fg.json names differ from their config's
    fg_json_aliases: dict[str, str] = {}
    # True where value_dim is the width of the type's numbers (unset: 1), not a limit on ids
    value_dim_is_width = False
    # True for types whose FG computes numbers (then normalized and bucketized), not tokens
    computes_numbers = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bucketizer = Bucketizer(self.config, self.bucket_order, self.field_path, self.name)
        if self.requires_bucketizer and not self.bucketizer.kind:
            raise ConfigError(
                self.field_path(self.bucket_order[0]), f"a {self.config_name} needs one of {', '.join(self.bucket_order)}"
            )
        fields = self.config.DESCRIPTOR.fields_by_name
        self._normalize = parse_normalizer(self.config.normalizer, self.field_path("normalizer")) if "normalizer" in fields else None
        if "value_dim" in fields and self.config.value_dim < 0:
            raise ConfigError(self.field_path("value_dim"), f"must be >= 0, got {self.config.value_dim}")

    @property
    def is_sparse(self) -> bool:
        return bool(self.bucketizer.kind)

    @property
    def num_embeddings(self) -> int:
        return self.bucketizer.num_embeddings

    @property
    def id_limit(self) -> int:
        """FG-encoded ids must lie in [0, id_limit) (the raw hash range for zch features)."""
        return self.bucketizer.id_limit

    @property
    def weighted(self) -> bool:
        """True when each id carries a weight."""
        return False

    @property
    def value_dim(self) -> int:
        return (int(self.config.value_dim) or 1) if self.value_dim_is_width else super().value_dim

    @property
    def max_ids(self) -> int:
        """At most this many ids per row (a set `value_dim` truncates, as pyfg does); 0: no limit."""
        c = self.config
        if self.value_dim_is_width or "value_dim" not in c.DESCRIPTOR.fields_by_name or not c.HasField("value_dim"):
            return 0
        return int(c.value_dim)

    def assets(self) -> list[str]:
        return self.bucketizer.assets()

    # ---- FG output to values

    def as_text(self, col: pa.Array) -> pa.Array:
        """Non-string values as decimal text, as pyfg renders them before hashing or vocab lookup.

        Integers under num_buckets stay integers: they are ids already.
        """
        is_list = arrow_ops.is_list(col.type)
        value_type = col.type.value_type if is_list else col.type
        if arrow_ops.is_string(value_type):
            return col
        if self.bucketizer.kind == "num_buckets" and pa.types.is_integer(value_type):
            return col
        return pc.cast(col, pa.list_(pa.string()) if is_list else pa.string())

    def input_tokens(self, col: pa.Array, separator: str, default: str) -> tuple[pa.Array, np.ndarray]:
        """Non-empty tokens of an input column and their per-row counts; null/empty rows take `default`."""
        col = self.fill_default(self.as_text(col), default, separator)
        return arrow_ops.flatten_non_empty(arrow_ops.to_token_lists(col, separator))

    def sparse_output(self, tokens: pa.Array, lengths: np.ndarray, weights: np.ndarray | None = None) -> SparseValues:
        """Bucketize FG output tokens into ids, keeping at most `max_ids` per row."""
        ids = self.bucketizer.tokens_to_ids(tokens, lengths)
        if weights is not None:
            weights, _ = truncate(weights, lengths, self.max_ids)
        ids, lengths = truncate(ids, lengths, self.max_ids)
        return SparseValues(np.asarray(ids, np.int64), np.asarray(lengths, np.int32), weights)

    def numeric_output(self, x: np.ndarray) -> FeatureValues:
        """Normalize a [rows, value_dim] matrix, then bucketize it (sparse) or keep it (dense)."""
        if self._normalize is not None:
            x = self._normalize(x)
        return self.bucketize_numbers(x)

    def bucketize_numbers(self, x: np.ndarray) -> FeatureValues:
        """A normalized [rows, value_dim] matrix as ids (sparse) or as it is (dense)."""
        if self.is_sparse:
            ids = self.bucketizer.numbers_to_ids(x)
            return SparseValues(ids, np.full(x.shape[0], x.shape[1], dtype=np.int32))
        return DenseValues(np.ascontiguousarray(x, dtype=np.float32))

    def float_matrix(self, col: pa.Array, separator: str, default: str, dim: int) -> np.ndarray:
        """[rows, dim] float64 of a numeric, list or separated-string column; every row must hold
        exactly `dim` numbers after null/empty rows take `default` (one number fills every slot)."""
        if dim > 1 and default and len(default.split(separator)) == 1:
            default = separator.join([default] * dim)
        tokens, lengths = arrow_ops.flatten_non_empty(arrow_ops.to_token_lists(self.fill_default(col, default, separator), separator))
        wrong = lengths != dim
        if wrong.any():
            row = arrow_ops.first_bad_row(wrong)
            raise InvalidFgInputError(self.name, f"expected {dim} value(s), got {int(lengths[row])}", row)
        return self.floats(tokens).reshape(-1, dim)

    def numeric_default(self, separator: str) -> np.ndarray:
        """`default_value` ("0" when empty) as `value_dim` numbers; one number fills every slot."""
        text = getattr(self.config, "default_value", "") or "0"
        try:
            numbers = np.asarray([float(v) for v in text.split(separator)], np.float64)
        except ValueError as e:
            raise ConfigError(self.field_path("default_value"), f"{text!r} is not a number: {e}") from e
        if len(numbers) not in (1, self.value_dim):
            raise ConfigError(self.field_path("default_value"), f"{text!r} has {len(numbers)} numbers; value_dim is {self.value_dim}")
        return np.broadcast_to(numbers, (self.value_dim,)).copy()

    def floats(self, tokens: pa.Array) -> np.ndarray:
        """Tokens as float64, or an error naming the feature and the first bad token."""
        try:
            return np.asarray(pc.cast(tokens, pa.float64()), dtype=np.float64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise InvalidFgInputError(self.name, f"value is not a number: {e}") from e

    # ---- FG_BUCKETIZE: the column named after the feature holds the FG output before bucketizing

    def _fg_bucketize(self, columns: dict[str, pa.Array]) -> FeatureValues:
        """Bucketize the feature's own column, which holds what `_fg` computes before its
        bucketizer (and after its normalizer): tokens for hash/vocab tables, numbers otherwise.

        Multi-value strings split on the feature's `separator`, as FG splits its inputs.
        """
        col = self.column(columns, self.name)
        c = self.config
        separator = getattr(c, "separator", "") or "\x1d"
        default = getattr(c, "default_value", "")
        if self.computes_numbers:
            return self.bucketize_numbers(self.float_matrix(col, separator, default or "0", self.value_dim))
        return self.sparse_output(*self.input_tokens(col, separator, default))

    # ---- FG_NONE: the column named after the feature holds the FG output

    def _fg_encoded(self, col: pa.Array) -> FeatureValues:
        sep = self.fg_encoded_multival_sep
        default = getattr(self.config, "fg_encoded_default_value", "")
        if not self.is_sparse:
            return DenseValues(self.float_matrix(col, sep, default or "0", self.value_dim).astype(np.float32))
        weights = None
        if arrow_ops.is_map(col.type):
            keys, items = arrow_ops.map_lists(col)
            tokens, lengths, weights = self.map_tokens(keys, items, default, sep)
        else:
            if arrow_ops.is_string(col.type):
                lists = arrow_ops.to_token_lists(self.fill_default(col, default, sep), sep)
            else:
                # a null row of an integer or list column takes the default ids
                lists = self.fill_default(arrow_ops.to_token_lists(col, sep), default, sep)
            tokens, lengths = arrow_ops.flatten_non_empty(lists)
            if self.weighted and arrow_ops.is_string(tokens.type):
                tokens, weights = self.split_weights(tokens)
        try:
            ids = np.asarray(pc.cast(tokens, pa.int64()), dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise InvalidFgInputError(self.name, f"FG-encoded ids must be integers: {e}") from e
        check_range(self.name, ids, lengths, self.id_limit, "FG-encoded ids")
        return SparseValues(ids, lengths, weights if self.weighted else None)

    def map_tokens(
        self, keys: pa.Array, items: pa.Array, default: str, separator: str
    ) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """Values from map keys, weights from its items; a null row takes the default values, weight 1."""
        if default:
            keys = self.fill_default(keys, default, separator)
            items = self.fill_default(items, separator.join(["1"] * len(default.split(separator))), separator)
        tokens, lengths = arrow_ops.flatten_non_empty(keys)
        flat_keys = pc.list_flatten(keys)
        keep = pc.is_valid(flat_keys)
        if arrow_ops.is_string(flat_keys.type):
            keep = pc.fill_null(pc.and_(keep, pc.not_equal(flat_keys, "")), False)
        flat_items = pc.filter(pc.list_flatten(items), keep)
        weights = np.asarray(pc.fill_null(pc.cast(flat_items, pa.float32()), 1.0), dtype=np.float32)
        return tokens, lengths, weights

    def split_weights(self, tokens: pa.Array) -> tuple[pa.Array, np.ndarray]:
        """`id:weight` tokens as ids and float32 weights (weight 1 when a token has none)."""
        parts = pc.split_pattern(pc.cast(tokens, pa.string()), ":", max_splits=1)
        keys = pc.list_element(parts, 0)
        has_weight = pc.greater(pc.list_value_length(parts), 1)
        raw_w = pc.if_else(has_weight, pc.list_slice(parts, 1, 2), pa.scalar(["1"], pa.list_(pa.string())))
        try:
            weights = np.asarray(pc.cast(pc.list_flatten(raw_w), pa.float32()), dtype=np.float32)
        except pa.ArrowInvalid as e:
            raise InvalidFgInputError(self.name, f"weights must be numbers in `id:weight` tokens: {e}") from e
        return keys, weights

    # ---- fg.json

    @classmethod
    def config_from_fg_json(cls, entry: dict[str, Any], kind: str, where: str) -> Any:
        renamed = {cls.fg_json_aliases.get(k, k): v for k, v in entry.items()}
        return super().config_from_fg_json(renamed, kind, where)

    def fg_json_base(self, feature_type: str, value_type: str) -> dict[str, Any]:
        """The keys every entry has: type, name, value type, bucketizer and the FG_NONE default."""
        c = self.config
        out: dict[str, Any] = {"feature_type": feature_type, "feature_name": self.name, "value_type": value_type}
        out.update(self.bucketizer.fg_json())
        fields = c.DESCRIPTOR.fields_by_name
        if "normalizer" in fields and c.normalizer:
            out["normalizer"] = c.normalizer
        if "value_dim" in fields and c.HasField("value_dim"):
            out["value_dim"] = int(c.value_dim)
        if c.fg_encoded_default_value:
            # not a pyfg key: FG_NONE parsing needs it to rebuild identical values from fg.json
            out["fg_encoded_default_value"] = c.fg_encoded_default_value
        return out

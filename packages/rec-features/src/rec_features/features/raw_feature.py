"""raw_feature: numeric values, dense (value_dim wide) or bucketized by boundaries into ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_features import arrow_ops
from rec_features.errors import InvalidFgInputError
from rec_features.features.base import BaseFeature, check_range
from rec_features.normalizer import parse_normalizer
from rec_features.values import DenseValues, FeatureValues, SparseValues


class RawFeature(BaseFeature):
    """Numbers from one input; normalized, then kept dense or bucketized by `boundaries`."""

    config_name = "raw_feature"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._normalize = parse_normalizer(self.config.normalizer, self.field_path("normalizer"))
        # float32 like the proto field and pyfg's float values: a value equal to a boundary as
        # written in the config must land in the upper bucket, which float64 rounding would break
        self._boundaries = np.asarray(list(self.config.boundaries), dtype=np.float32)
        if np.any(np.diff(self._boundaries) <= 0):
            raise ConfigError(self.field_path("boundaries"), f"must be strictly increasing, got {[float(b) for b in self._boundaries]}")
        if self.config.value_dim < 0:
            raise ConfigError(self.field_path("value_dim"), f"must be >= 1, got {self.config.value_dim}")

    @property
    def is_sparse(self) -> bool:
        return len(self.config.boundaries) > 0

    @property
    def value_dim(self) -> int:
        return int(self.config.value_dim) if self.config.value_dim else 1

    @property
    def num_embeddings(self) -> int:
        return len(self.config.boundaries) + 1

    def _floats(self, col: pa.Array, separator: str, default: str) -> np.ndarray:
        """[rows, value_dim] float64 matrix; every row must hold exactly value_dim numbers.

        A one-number default fills every slot of a wider feature (`0` means a zero vector).
        """
        dim = self.value_dim
        if dim > 1 and default and len(default.split(separator)) == 1:
            default = separator.join([default] * dim)
        col = self.fill_default(col, default, separator)
        if dim == 1 and not (arrow_ops.is_string(col.type) or arrow_ops.is_list(col.type)):
            if col.null_count:
                raise InvalidFgInputError(self.name, "null value and no default_value", int(np.flatnonzero(np.asarray(pc.is_null(col)))[0]))
            return np.asarray(pc.cast(col, pa.float64()), dtype=np.float64).reshape(-1, 1)
        tokens, lengths = arrow_ops.flatten_non_empty(arrow_ops.to_token_lists(col, separator))
        wrong = lengths != dim
        if wrong.any():
            row = arrow_ops.first_bad_row(wrong)
            raise InvalidFgInputError(self.name, f"expected {dim} value(s), got {int(lengths[row])}", row)
        try:
            flat = np.asarray(pc.cast(tokens, pa.float64()), dtype=np.float64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise InvalidFgInputError(self.name, f"value is not a number: {e}") from e
        return flat.reshape(-1, dim)

    def _finish(self, x: np.ndarray) -> FeatureValues:
        if self._normalize is not None:
            x = self._normalize(x)
        return self._bucketize(x)

    def _bucketize(self, x: np.ndarray) -> FeatureValues:
        if self.is_sparse:
            # TF-style bucketize: boundaries[i-1] <= x < boundaries[i] -> bucket i
            ids = np.searchsorted(self._boundaries, x.reshape(-1).astype(np.float32), side="right").astype(np.int64)
            return SparseValues(ids, np.full(x.shape[0], x.shape[1], dtype=np.int32))
        return DenseValues(np.ascontiguousarray(x, dtype=np.float32))

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        col = self.column(columns, self.inputs[0])
        return self._finish(self._floats(col, self.config.separator or "\x1d", self.config.default_value or "0"))

    def _fg_bucketize(self, columns: dict[str, pa.Array]) -> FeatureValues:
        # the column holds normalized numbers: bucketize them only
        col = self.column(columns, self.name)
        return self._bucketize(self._floats(col, self.config.separator or "\x1d", self.config.default_value or "0"))

    def _fg_encoded(self, col: pa.Array) -> FeatureValues:
        default = getattr(self.config, "fg_encoded_default_value", "")
        if self.is_sparse:
            sep = self.fg_encoded_multival_sep
            tokens, lengths = arrow_ops.flatten_non_empty(
                arrow_ops.to_token_lists(self.fill_default(col, default, sep), sep)
            )
            try:
                ids = np.asarray(pc.cast(tokens, pa.int64()), dtype=np.int64)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise InvalidFgInputError(self.name, f"FG-encoded bucket ids must be integers: {e}") from e
            check_range(self.name, ids, lengths, self.num_embeddings, "FG-encoded bucket ids")
            return SparseValues(ids, lengths)
        x = self._floats(col, self.fg_encoded_multival_sep, default or "0")
        return DenseValues(np.ascontiguousarray(x, dtype=np.float32))

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {
            "feature_type": "raw_feature",
            "feature_name": self.name,
            "expression": c.expression,
            "default_value": c.default_value or "0",
            "value_type": "float",
            "value_dim": self.value_dim,
            "separator": c.separator or "\x1d",
        }
        if c.normalizer:
            out["normalizer"] = c.normalizer
        if len(c.boundaries):
            out["boundaries"] = [float(b) for b in c.boundaries]
        if c.fg_encoded_default_value:
            # not a pyfg key: FG_NONE parsing needs it to rebuild identical values from fg.json
            out["fg_encoded_default_value"] = c.fg_encoded_default_value
        return out

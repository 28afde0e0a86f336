"""bool_mask_feature: the values of one input kept where a second input's mask is true, as ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_features import arrow_ops
from rec_features.bucketize import ID_ORDER
from rec_features.errors import InvalidFgInputError
from rec_features.features.bucketized import BucketizedFeature
from rec_features.tokens import fill_empty
from rec_features.values import SparseValues

_TRUE = pa.array(["true", "1"])
_FALSE = pa.array(["false", "0"])


class BoolMaskFeature(BucketizedFeature):
    """`expression: [values, mask]`: element i of values is kept when element i of mask is true.

    Masks are booleans, 0/1 integers or `true`/`false`/`1`/`0` text (split on `separator`
    like the values); both inputs must have the same number of elements in every row where
    both are present (a row missing either keeps nothing).
    Then bucketized like an id_feature.
    """

    config_name = "bool_mask_feature"
    bucket_order = ID_ORDER
    requires_bucketizer = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if len(self.config.expression) != 2:
            raise ConfigError(self.field_path("expression"), f"expected [values, mask], got {list(self.config.expression)}")

    def _lists(self, col: pa.Array, separator: str) -> pa.Array:
        return arrow_ops.to_token_lists(self.as_text(col), separator)

    def _fg(self, columns: dict[str, pa.Array]) -> SparseValues:
        separator = self.config.separator or "\x1d"
        values = self._lists(self.column(columns, self.inputs[0]), separator)
        mask = arrow_ops.to_token_lists(self.column(columns, self.inputs[1]), separator)
        # a row missing either side is missing: it keeps nothing
        missing = pc.or_(pc.is_null(values), pc.is_null(mask))
        values = pc.if_else(missing, pa.scalar(None, values.type), values)
        mask = pc.if_else(missing, pa.scalar(None, mask.type), mask)
        n_values = np.asarray(pc.fill_null(pc.list_value_length(values), 0), np.int64)
        n_mask = np.asarray(pc.fill_null(pc.list_value_length(mask), 0), np.int64)
        if (n_values != n_mask).any():
            row = arrow_ops.first_bad_row(n_values != n_mask)
            raise InvalidFgInputError(self.name, f"{n_values[row]} value(s) but {n_mask[row]} mask element(s)", row)
        keep = self._mask(pc.list_flatten(mask), n_mask)
        flat = pc.list_flatten(values)
        valid = np.asarray(pc.fill_null(pc.and_(pc.is_valid(flat), pc.not_equal(pc.cast(flat, pa.string()), "")), False), bool)
        keep &= valid
        rows = np.asarray(pc.list_parent_indices(values), np.int64)[keep]
        lengths = np.bincount(rows, minlength=len(values)).astype(np.int32)
        tokens, lengths = fill_empty(flat.filter(pa.array(keep)), lengths, self.config.default_value)
        return self.sparse_output(tokens, lengths)

    def _mask(self, flat: pa.Array, lengths: np.ndarray) -> np.ndarray:
        text = pc.utf8_lower(pc.cast(flat, pa.string()))
        true = np.asarray(pc.fill_null(pc.is_in(text, value_set=_TRUE), False), bool)
        known = true | np.asarray(pc.fill_null(pc.is_in(text, value_set=_FALSE), False), bool)
        if not known.all():
            i = int(np.flatnonzero(~known)[0])
            row = int(np.searchsorted(np.cumsum(lengths), i, side="right"))
            raise InvalidFgInputError(self.name, f"mask element {flat[i].as_py()!r} is not true/false/1/0", row)
        return true

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("bool_mask_feature", "int64" if self.bucketizer.kind == "num_buckets" else "string")
        out.update(expression=list(c.expression), default_value=c.default_value, separator=c.separator or "\x1d")
        return out

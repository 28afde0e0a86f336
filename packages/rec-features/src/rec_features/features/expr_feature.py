"""expr_feature: a formula over numeric inputs (rec_features.expr), dense or bucketized by boundaries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from rec_core.errors import ConfigError
from rec_features import arrow_ops
from rec_features.bucketize import BOUNDARIES_ORDER
from rec_features.errors import InvalidFgInputError
from rec_features.expr import ExprSyntaxError, Ragged, evaluate, parse, variables_of
from rec_features.expr.ragged import ShapeError
from rec_features.features.base import parse_expression
from rec_features.features.bucketized import BucketizedFeature
from rec_features.values import FeatureValues


class ExprFeature(BucketizedFeature):
    """`expression` (e.g. `sigmoid(pv / (1 + click))`) over the columns named in `variables`.

    Every variable is one number or a vector per row (numeric, list or `separator`-split text
    columns; null/empty rows take `default_value`). The result must hold `value_dim` numbers
    per row (one number fills every slot). Vectors of unequal lengths are padded with
    `fill_missing` when it is set, else the row is an error.
    """

    config_name = "expr_feature"
    computes_numbers = True
    bucket_order = BOUNDARIES_ORDER
    value_dim_is_width = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        try:
            self.tree = parse(c.expression)
        except ExprSyntaxError as e:
            raise ConfigError(self.field_path("expression"), f"{e} in {c.expression!r}") from e
        names = {parse_expression(v)[1] for v in c.variables}
        unknown = sorted(variables_of(self.tree) - names)
        if unknown:
            raise ConfigError(self.field_path("variables"), f"expression uses {unknown}, not among the variables {sorted(names)}")
        self.fill = float(c.fill_missing) if c.HasField("fill_missing") else None

    @property
    def input_expressions(self) -> list[str]:
        return list(self.config.variables)

    def _variable(self, col: pa.Array) -> Ragged:
        separator = self.config.separator or "\x1d"
        if not (arrow_ops.is_string(col.type) or arrow_ops.is_list(col.type)) and not col.null_count:
            return Ragged.scalar(np.asarray(col.cast(pa.float64()), np.float64))
        col = self.fill_default(col, self.config.default_value, separator)
        tokens, lengths = arrow_ops.flatten_non_empty(arrow_ops.to_token_lists(col, separator))
        return Ragged.from_flat(self.floats(tokens), lengths)

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        names = self.inputs
        values = {name: self._variable(self.column(columns, name)) for name in names}
        rows = len(self.column(columns, names[0])) if names else len(next(iter(columns.values())))
        try:
            result = evaluate(self.tree, values, rows, self.fill)
        except ShapeError as e:
            raise InvalidFgInputError(self.name, str(e), e.row) from e
        dim = self.value_dim
        wrong = (result.lengths != dim) & (result.lengths != 1)
        if wrong.any():
            row = arrow_ops.first_bad_row(wrong)
            raise InvalidFgInputError(self.name, f"expression gives {int(result.lengths[row])} value(s), value_dim is {dim}", row)
        data = np.pad(result.data, ((0, 0), (0, max(0, dim - result.data.shape[1]))))
        # a one-number row fills every slot
        return self.numeric_output(np.where((result.lengths == 1)[:, None], data[:, :1], data[:, :dim]))

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("expr_feature", "float")
        out.update(expression=c.expression, variables=list(c.variables), default_value=c.default_value, separator=c.separator or "\x1d")
        if c.HasField("fill_missing"):
            out["fill_missing"] = float(c.fill_missing)
        return out

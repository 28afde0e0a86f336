"""combo_feature: the cross product of several inputs' values, joined with `_`, bucketized to ids."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from rec_core.errors import ConfigError
from rec_features.bucketize import COMBO_ORDER
from rec_features.features.bucketized import BucketizedFeature
from rec_features.tokens import cartesian, fill_empty
from rec_features.values import SparseValues


class ComboFeature(BucketizedFeature):
    """Every combination of one value from each input (first input outermost), e.g. `a_x, a_y, b_x, b_y`.

    A row where any input has no value gets no combination; `default_value`, when set, is then
    the row's only value (it is not combined). Bucketized by hash_bucket_size or a vocab.
    """

    config_name = "combo_feature"
    bucket_order = COMBO_ORDER
    requires_bucketizer = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if len(self.config.expression) < 2:
            raise ConfigError(self.field_path("expression"), f"a combo needs at least 2 inputs, got {list(self.config.expression)}")

    def _fg(self, columns: dict[str, pa.Array]) -> SparseValues:
        separator = self.config.separator or "\x1d"
        parts = [self.input_tokens(self.column(columns, name), separator, "") for name in self.inputs]
        tokens, lengths = fill_empty(*cartesian(parts), self.config.default_value)
        return self.sparse_output(tokens, lengths)

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("combo_feature", "string")
        out.update(expression=list(c.expression), default_value=c.default_value, separator=c.separator or "\x1d")
        return out

"""custom_feature: a third-party operator (rec_features.custom_ops) computes the values, which are
then bucketized (ids) or kept dense like any other feature's."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from google.protobuf import json_format

from rec_core.errors import ConfigError, PluginError
from rec_features import arrow_ops
from rec_features.bucketize import LOOKUP_ORDER
from rec_features.custom_ops import load_operator
from rec_features.errors import InvalidFgInputError
from rec_features.features.bucketized import BucketizedFeature
from rec_features.values import FeatureValues


class CustomFeature(BucketizedFeature):
    """Runs the operator named `operator_name` on the `expression` inputs.

    The operator's output is read like an id_feature's input when a bucketizer is set (split on
    `separator`, `default_value` for empty rows), else like a raw_feature's (`value_dim` numbers,
    `normalizer`). `operator_lib_file` and `is_op_thread_safe` are kept for fg.json only.
    """

    config_name = "custom_feature"
    bucket_order = LOOKUP_ORDER
    value_dim_is_width = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        self.params = json_format.MessageToDict(c.operator_params) if c.HasField("operator_params") else {}
        try:
            operator = load_operator(c.operator_name)
        except PluginError as e:
            raise ConfigError(self.field_path("operator_name"), str(e)) from e
        try:
            self.operator = operator(self.params)
        except (ValueError, TypeError) as e:
            raise ConfigError(self.field_path("operator_params"), f"operator {c.operator_name!r}: {e}") from e

    @property
    def computes_numbers(self) -> bool:  # type: ignore[override]
        return not self.is_sparse

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        c = self.config
        inputs = [self.column(columns, name) for name in self.inputs]
        try:
            out = self.operator(inputs)
        except (ValueError, TypeError, pa.ArrowException) as e:
            raise InvalidFgInputError(self.name, f"operator {c.operator_name!r} failed: {type(e).__name__}: {e}") from e
        out = arrow_ops.decode(out if isinstance(out, pa.Array | pa.ChunkedArray) else pa.array(out))
        rows = len(inputs[0]) if inputs else len(out)
        if len(out) != rows:
            raise InvalidFgInputError(self.name, f"operator {c.operator_name!r} returned {len(out)} rows for {rows}")
        separator = c.separator or "\x1d"
        if self.is_sparse:
            return self.sparse_output(*self.input_tokens(out, separator, c.default_value))
        return self.numeric_output(self.float_matrix(out, separator, c.default_value or "0", self.value_dim))

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("custom_feature", "int64" if self.bucketizer.kind == "num_buckets" else ("string" if self.is_sparse else "float"))
        # pyfg reads the operator's parameters from the entry itself; operator_params keeps them for rec
        out.update({k: v for k, v in self.params.items() if k not in out})
        out.update(
            operator_name=c.operator_name,
            operator_lib_file=c.operator_lib_file,
            is_op_thread_safe=bool(c.is_op_thread_safe),
            expression=list(c.expression),
            default_value=c.default_value,
            separator=c.separator or "\x1d",
        )
        if self.params:
            out["operator_params"] = self.params
        return out

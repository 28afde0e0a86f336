"""kv_dot_product: the dot product of two sparse key-value vectors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_features.bucketize import BOUNDARIES_ORDER
from rec_features.features.bucketized import BucketizedFeature
from rec_features.tokens import kv_entries, row_keys
from rec_features.values import FeatureValues


class KvDotProduct(BucketizedFeature):
    """`query` and `document` are `k:v|k:v` text (`separator`, `kv_delimiter`), lists of `k:v`, or
    maps; a key without a value weighs 1, so two key sets give the size of their intersection.
    The result is sum over equal keys of query value x document value (repeated keys add up);
    rows where either side is null or empty get `default_value`. Normalized, then dense or
    bucketized by `boundaries`.
    """

    config_name = "kv_dot_product"
    computes_numbers = True
    bucket_order = BOUNDARIES_ORDER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_vector = self.numeric_default(",")

    @property
    def input_expressions(self) -> list[str]:
        return [self.config.query, self.config.document]

    def vector(self, col: pa.Array) -> tuple[np.ndarray, pa.Array, np.ndarray]:
        """Rows, keys and float values of one side's entries."""
        c = self.config
        rows, keys, values = kv_entries(col, c.separator or "|", c.kv_delimiter or ":")
        values = pc.if_else(pc.fill_null(pc.not_equal(values, ""), False), values, "1")
        return rows, keys, self.floats(values)

    def _fg(self, columns: dict[str, pa.Array]) -> FeatureValues:
        query = self.column(columns, self.inputs[0])
        q_rows, q_keys, q_values = self.vector(query)
        d_rows, d_keys, d_values = self.vector(self.column(columns, self.inputs[1]))
        # document values summed per (row, key), then looked up by every query entry
        doc = pa.table({"k": row_keys(d_rows, d_keys), "v": d_values}).group_by("k").aggregate([("v", "sum")])
        pos = np.asarray(pc.fill_null(pc.index_in(row_keys(q_rows, q_keys), value_set=doc["k"]), -1), np.int64)
        doc_sums = np.asarray(doc["v_sum"], np.float64)
        products = np.zeros(len(pos))
        hit = pos >= 0
        products[hit] = q_values[hit] * doc_sums[pos[hit]]
        n = len(query)
        out = np.bincount(q_rows, weights=products, minlength=n).reshape(n, 1)
        missing = (np.bincount(q_rows, minlength=n) == 0) | (np.bincount(d_rows, minlength=n) == 0)
        out[missing] = self.default_vector
        return self.numeric_output(out)

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("kv_dot_product", "float")
        out.update(
            query=c.query,
            document=c.document,
            default_value=c.default_value or "0",
            separator=c.separator or "|",
            kv_delimiter=c.kv_delimiter or ":",
        )
        return out

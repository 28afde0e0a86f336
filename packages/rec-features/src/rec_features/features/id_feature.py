"""id_feature: categorical ids (single or multi-value, optionally weighted) bucketized to a table."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from rec_features import arrow_ops
from rec_features.bucketize import ID_ORDER
from rec_features.features.bucketized import BucketizedFeature
from rec_features.values import SparseValues

class IdFeature(BucketizedFeature):
    """Ids from one input; bucketized by hash_bucket_size, vocab_list, vocab_dict, vocab_file or num_buckets."""

    config_name = "id_feature"
    bucket_order = ID_ORDER
    requires_bucketizer = True

    @property
    def weighted(self) -> bool:
        """True when each id carries a weight (`id:weight` tokens or a map input)."""
        return bool(getattr(self.config, "weighted", False))

    def _fg(self, columns: dict[str, pa.Array]) -> SparseValues:
        col = self.column(columns, self.inputs[0])
        separator = self.config.separator or "\x1d"
        if arrow_ops.is_map(col.type):
            # a map input is `id -> weight` pairs: keys are the values, items their weights
            keys, items = arrow_ops.map_lists(col)
            tokens, lengths, weights = self.map_tokens(self.as_text(keys), items, self.config.default_value, separator)
            return self.sparse_output(tokens, lengths, weights if self.weighted else None)
        tokens, lengths = self.input_tokens(col, separator, self.config.default_value)
        weights = None
        if self.weighted and arrow_ops.is_string(tokens.type):
            tokens, weights = self.split_weights(tokens)
        return self.sparse_output(tokens, lengths, weights)

    def _fg_bucketize(self, columns: dict[str, pa.Array]) -> SparseValues:
        # an id feature's FG is bucketizing alone (weights and maps included): run it on its own column
        return self._fg(columns)

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("id_feature", "int64" if self.bucketizer.kind == "num_buckets" else "string")
        out.update(
            expression=c.expression, default_value=c.default_value, separator=c.separator or "\x1d", weighted=self.weighted
        )
        return out

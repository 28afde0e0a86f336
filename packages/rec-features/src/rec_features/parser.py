"""FeatureParser: Arrow record batch in, `Batch` (KeyedJaggedTensor / KeyedTensor) out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import pyarrow as pa
import torch
from torchrec.sparse.jagged_tensor import JaggedTensor, KeyedJaggedTensor, KeyedTensor

from rec_core.batch import BASE_DATA_GROUP, Batch
from rec_core.errors import DataError
from rec_features import sampled
from rec_features.dag import FeatureGraph
from rec_features.features.base import BaseFeature
from rec_features.values import DenseValues, FeatureValues, SequenceDenseValues, SequenceSparseValues, SparseValues

V = TypeVar("V")


class FeatureParser:
    """Computes every feature of a batch and packs the values into a `Batch`.

    Sparse features (pooled and sequence ids) share one KeyedJaggedTensor, dense ones one
    KeyedTensor; dense sequences are JaggedTensors in `sequence_dense_features`, and the per-element
    id counts of multi-value sequences a KeyedJaggedTensor in `sequence_mulval_lengths`.
    `stub_type` features are computed only as inputs of other features.
    Picklable, so DataLoader workers run it; FG itself is NumPy/Arrow only (`compute`).
    """

    def __init__(
        self,
        features: Sequence[BaseFeature],
        label_fields: Sequence[str] = (),
        sample_weight_fields: Sequence[str] = (),
        reserved_columns: Sequence[str] = (),
    ) -> None:
        self.features = list(features)
        self.graph = FeatureGraph(self.features)
        self.label_fields = list(label_fields)
        self.sample_weight_fields = list(sample_weight_fields)
        self.reserved_columns = list(reserved_columns)
        emitted = self.graph.emitted
        self.sparse_names = [f.name for f in emitted if f.is_sparse]
        self.dense_names = [f.name for f in emitted if not f.is_sparse and not f.is_sequence]
        self.sequence_dense_names = [f.name for f in emitted if not f.is_sparse and f.is_sequence]
        self.mulval_names = [f.name for f in emitted if f.is_multi_value_sequence]
        self.has_weights = any(getattr(f, "weighted", False) for f in emitted if f.is_sparse)

    def feature_columns(self) -> list[str]:
        """The input columns the features read, each once, in first-use order."""
        return self.graph.input_columns()

    def input_columns(self) -> list[str]:
        """Every column to read: feature inputs, labels, sample weights, reserved columns."""
        cols = self.feature_columns() + self.label_fields + self.sample_weight_fields + self.reserved_columns
        return list(dict.fromkeys(cols))

    def compute(self, batch: pa.RecordBatch | pa.Table | dict[str, pa.Array]) -> dict[str, FeatureValues]:
        """Run FG: the values of every (non-stub) feature for the rows of `batch`."""
        columns = _columns(batch)
        num_rows = batch.num_rows if not isinstance(batch, dict) else _num_rows(columns)
        return self.graph.compute(columns, num_rows)

    def to_batch(self, values: dict[str, FeatureValues], num_rows: int) -> Batch:
        """Pack feature values into torch structures (zero-copy from NumPy)."""
        batch = Batch(batch_size=num_rows)
        if self.sparse_names:
            batch.sparse_features[BASE_DATA_GROUP] = self._sparse(values, num_rows)
        if self.mulval_names:
            mulval = [_typed(values[n], SequenceSparseValues) for n in self.mulval_names]
            batch.sequence_mulval_lengths[BASE_DATA_GROUP] = KeyedJaggedTensor(
                keys=self.mulval_names,
                values=torch.from_numpy(np.concatenate([v.key_lengths for v in mulval]).astype(np.int32)),
                lengths=torch.from_numpy(np.concatenate([v.seq_lengths for v in mulval]).astype(np.int32)),
                stride=num_rows,
            )
        for name in self.sequence_dense_names:
            v = _typed(values[name], SequenceDenseValues)
            batch.sequence_dense_features[name] = JaggedTensor(
                values=torch.from_numpy(np.ascontiguousarray(v.values, dtype=np.float32)),
                lengths=torch.from_numpy(v.seq_lengths.astype(np.int32)),
            )
        if self.dense_names:
            dense = [_typed(values[n], DenseValues) for n in self.dense_names]
            batch.dense_features[BASE_DATA_GROUP] = KeyedTensor(
                keys=self.dense_names,
                length_per_key=[v.values.shape[1] for v in dense],
                values=torch.from_numpy(np.concatenate([v.values for v in dense], axis=1)),
            )
        return batch

    def _sparse(self, values: dict[str, FeatureValues], num_rows: int) -> KeyedJaggedTensor:
        sparse = [_typed(values[n], SparseValues) for n in self.sparse_names]
        weights = None
        if self.has_weights:
            # one weights tensor for the whole KJT: features without weights weigh 1
            weights = torch.from_numpy(
                np.concatenate([v.weights if v.weights is not None else np.ones(len(v.values), np.float32) for v in sparse])
            )
        return KeyedJaggedTensor(
            keys=self.sparse_names,
            values=torch.from_numpy(np.concatenate([v.values for v in sparse])),
            lengths=torch.from_numpy(np.concatenate([v.lengths for v in sparse]).astype(np.int32)),
            weights=weights,
            stride=num_rows,
        )

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> Batch:
        """Parse one record batch into a `Batch` with labels, weights and reserved columns.

        A sampler's output (`SampledBatch`), or features placed in several data groups, go
        through `rec_features.sampled.parse_grouped`.
        """
        if sampled.needs_grouping(self.features, batch):
            return sampled.parse_grouped(self, batch)
        columns = _columns(batch)
        out = self.to_batch(self.compute(columns), batch.num_rows)
        for name in self.label_fields:
            out.labels[name] = _label_tensor(columns, name)
        for name in self.sample_weight_fields:
            out.sample_weights[name] = _label_tensor(columns, name).float()
        if self.reserved_columns:
            missing = [c for c in self.reserved_columns if c not in columns]
            if missing:
                raise DataError(f"reserved column(s) {missing} not in the input; columns: {sorted(columns)}")
            out.reserves = pa.record_batch([columns[c] for c in self.reserved_columns], names=self.reserved_columns)
        return out


def _typed(value: FeatureValues, kind: type[V]) -> V:
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__} feature values, got {type(value).__name__}")
    return value


def _columns(batch: pa.RecordBatch | pa.Table | dict[str, pa.Array]) -> dict[str, pa.Array]:
    if isinstance(batch, dict):
        return batch
    return {name: batch.column(i) for i, name in enumerate(batch.schema.names)}


def _num_rows(columns: dict[str, pa.Array]) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def _label_tensor(columns: dict[str, pa.Array], name: str) -> torch.Tensor:
    if name not in columns:
        raise DataError(f"label/weight column {name!r} is missing; columns: {sorted(columns)}")
    col = columns[name]
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count:
        raise DataError(f"label/weight column {name!r} has {col.null_count} null value(s)")
    arr = col.to_numpy(zero_copy_only=False)
    if np.issubdtype(arr.dtype, np.floating):
        return torch.from_numpy(arr.astype(np.float32))
    return torch.from_numpy(arr.astype(np.int64))

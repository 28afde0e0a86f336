"""Feature values as produced by FG: flat NumPy columns, independent of torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass
class SparseValues:
    """Ids of a sparse feature for a batch: flat `values`, per-row `lengths`, optional `weights`."""

    values: np.ndarray  # int64
    lengths: np.ndarray  # int32, one per row
    weights: np.ndarray | None = None  # float32, aligned with values

    def __len__(self) -> int:
        return len(self.lengths)


@dataclass(kw_only=True)
class SequenceSparseValues(SparseValues):
    """Ids of a sparse sequence: `lengths` are ids per row (the KJT lengths), `seq_lengths`
    elements per row, `key_lengths` ids per element; `multi_value` when elements may hold
    several ids (the feature's config says so, whatever this batch holds)."""

    seq_lengths: np.ndarray  # int32, one per row
    key_lengths: np.ndarray  # int32, one per element
    multi_value: bool = False


@dataclass
class DenseValues:
    """Values of a dense feature for a batch, shape [rows, value_dim], float32."""

    values: np.ndarray

    def __len__(self) -> int:
        return self.values.shape[0]


@dataclass
class SequenceDenseValues:
    """Values of a dense sequence: `values` [elements, value_dim] float32, `seq_lengths` elements per row."""

    values: np.ndarray
    seq_lengths: np.ndarray  # int32, one per row

    def __len__(self) -> int:
        return len(self.seq_lengths)


FeatureValues = SparseValues | DenseValues | SequenceDenseValues


def _offsets(lengths: np.ndarray) -> pa.Array:
    out = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=out[1:])
    return pa.array(out)


def _lists(lengths: np.ndarray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(_offsets(lengths), values)


def to_arrow(values: FeatureValues) -> pa.Array:
    """One Arrow value per row, in the form FG_NONE reads back: ids as list<int64> (weighted: map<int64,
    float32>; multi-valued sequences: list<list<int64>>), dense values as float32 (value_dim 1) or
    list<float32>, dense sequences as list<float32> or list<list<float32>>."""
    if isinstance(values, SequenceSparseValues):
        ids = pa.array(values.values, pa.int64())
        if values.multi_value:
            return _lists(values.seq_lengths, _lists(values.key_lengths, ids))
        return _lists(values.seq_lengths, ids)
    if isinstance(values, SparseValues):
        ids = pa.array(values.values, pa.int64())
        if values.weights is not None:
            weights = pa.array(values.weights, pa.float32())
            return pa.MapArray.from_arrays(_offsets(values.lengths), ids, weights)
        return _lists(values.lengths, ids)
    flat = values.values
    dim = flat.shape[1] if flat.ndim == 2 else 1
    floats = pa.array(np.ascontiguousarray(flat, dtype=np.float32).reshape(-1))
    rows = floats if dim == 1 else _lists(np.full(flat.shape[0], dim, np.int32), floats)
    if isinstance(values, SequenceDenseValues):
        return _lists(values.seq_lengths, rows)
    return rows

"""Feature values as produced by FG: flat NumPy columns, independent of torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SparseValues:
    """Ids of a sparse feature for a batch: flat `values`, per-row `lengths`, optional `weights`."""

    values: np.ndarray  # int64
    lengths: np.ndarray  # int32, one per row
    weights: np.ndarray | None = None  # float32, aligned with values

    def __len__(self) -> int:
        return len(self.lengths)


@dataclass
class DenseValues:
    """Values of a dense feature for a batch, shape [rows, value_dim], float32."""

    values: np.ndarray

    def __len__(self) -> int:
        return self.values.shape[0]


FeatureValues = SparseValues | DenseValues

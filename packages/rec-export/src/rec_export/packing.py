"""FG values to the exported model's input: the flat tensor dict of `Batch.to_dict()`.

Built from NumPy without TorchRec, so serving never imports the training stack; a test keeps
it equal to what rec-features' parser produces for the same rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from rec_core.errors import DataError
from rec_features.features.base import BaseFeature
from rec_features.values import DenseValues, FeatureValues, SequenceDenseValues, SequenceSparseValues, SparseValues

# FG output arrays are often read-only views of Arrow memory; the model never writes its inputs
warnings.filterwarnings("ignore", message="The given NumPy array is not writable", category=UserWarning)


def has_weights(features: Sequence[BaseFeature]) -> bool:
    """True when any sparse feature is weighted: every sparse feature then carries `.weights`."""
    return any(getattr(f, "weighted", False) for f in features if f.is_sparse)


def input_keys(feature: BaseFeature, weights: bool) -> list[str]:
    """The flat input names of one feature (`name.values`, `name.lengths`, ... or `name`)."""
    if feature.is_sparse:
        keys = [f"{feature.name}.values", f"{feature.name}.lengths"]
        keys += [f"{feature.name}.weights"] if weights else []
        return keys + ([f"{feature.name}.key_lengths"] if feature.is_multi_value_sequence else [])
    if feature.is_sequence:
        return [f"{feature.name}.values", f"{feature.name}.lengths"]
    return [feature.name]


def _rows(x: np.ndarray, dtype: type) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=dtype))


def pack_feature(feature: BaseFeature, value: FeatureValues, weights: bool) -> dict[str, torch.Tensor]:
    """One feature's tensors, typed as the parser types them (ids int64, lengths int32, floats float32)."""
    name = feature.name
    if feature.is_sparse:
        if not isinstance(value, SparseValues):
            raise DataError(f"feature {name!r}: FG produced {type(value).__name__}, expected ids")
        out = {f"{name}.values": _rows(value.values, np.int64), f"{name}.lengths": _rows(value.lengths, np.int32)}
        if weights:
            w = value.weights if value.weights is not None else np.ones(len(value.values), np.float32)
            out[f"{name}.weights"] = _rows(w, np.float32)
        if feature.is_multi_value_sequence:  # as Batch.to_dict: elements per row, ids per element
            assert isinstance(value, SequenceSparseValues)
            out[f"{name}.lengths"] = _rows(value.seq_lengths, np.int32)
            out[f"{name}.key_lengths"] = _rows(value.key_lengths, np.int32)
        return out
    if isinstance(value, SequenceDenseValues):
        return {f"{name}.values": _rows(value.values, np.float32), f"{name}.lengths": _rows(value.seq_lengths, np.int32)}
    if not isinstance(value, DenseValues):
        raise DataError(f"feature {name!r}: FG produced {type(value).__name__}, expected dense values")
    return {name: _rows(value.values, np.float32)}


def pack(features: Sequence[BaseFeature], values: dict[str, FeatureValues]) -> dict[str, torch.Tensor]:
    """The model input for FG `values` of `features` (the emitted ones)."""
    weights = has_weights(features)
    out: dict[str, torch.Tensor] = {}
    for f in features:
        out.update(pack_feature(f, values[f.name], weights))
    return out

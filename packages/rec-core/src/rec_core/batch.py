"""The Batch contract: what the feature parser produces and every model consumes.

Needs torch and torchrec (install `rec-core[torch]`, which rec-features brings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torchrec.sparse.jagged_tensor import JaggedTensor, KeyedJaggedTensor, KeyedTensor
from torchrec.streamable import Pipelineable

BASE_DATA_GROUP = "__BASE__"
# features of the items a sampler drew (B + N rows): single-input types, and cross types
NEG_DATA_GROUP = "__NEG__"
CROSS_NEG_DATA_GROUP = "__CNEG__"

_TENSOR_DICTS = (
    "dense_features",
    "sparse_features",
    "sequence_mulval_lengths",
    "sequence_dense_features",
    "labels",
    "jagged_labels",
    "sample_weights",
    "additional_infos",
)


def _move(x: Any, device: torch.device, non_blocking: bool) -> Any:
    return x.to(device=device, non_blocking=non_blocking)


@dataclass
class Batch(Pipelineable):
    """One mini-batch: features per data group, labels, sample weights and reserved columns.

    dense_features[group] holds dense feature values as a KeyedTensor, sparse_features[group]
    the ids (and weights) of sparse features as a KeyedJaggedTensor; `reserves` carries the
    columns a predict run passes through to its output untouched.
    """

    dense_features: dict[str, KeyedTensor] = field(default_factory=dict)
    sparse_features: dict[str, KeyedJaggedTensor] = field(default_factory=dict)
    # multi-value sequences: per group, values = ids per element, lengths = elements per row
    sequence_mulval_lengths: dict[str, KeyedJaggedTensor] = field(default_factory=dict)
    # sequence_raw_feature values by feature name: [sum(lengths), value_dim] with per-row lengths
    sequence_dense_features: dict[str, JaggedTensor] = field(default_factory=dict)
    labels: dict[str, torch.Tensor] = field(default_factory=dict)
    jagged_labels: dict[str, JaggedTensor] = field(default_factory=dict)
    sample_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    # sampler bookkeeping such as `hard_neg_indices` (int32 [H, 2]: batch row, slot)
    additional_infos: dict[str, torch.Tensor] = field(default_factory=dict)
    reserves: Any = None
    batch_size: int = 0

    def _map(self, fn: Any) -> Batch:
        return Batch(
            **{name: {k: fn(v) for k, v in getattr(self, name).items()} for name in _TENSOR_DICTS},
            reserves=self.reserves,
            batch_size=self.batch_size,
        )

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        """A copy of the batch with every tensor on `device`."""
        return self._map(lambda v: _move(v, device, non_blocking))

    def record_stream(self, stream: torch.Stream) -> None:
        """Mark every tensor as used on `stream` (for pipelined GPU copies)."""
        for name in _TENSOR_DICTS:
            for v in getattr(self, name).values():
                v.record_stream(stream)

    def pin_memory(self) -> Batch:
        """A copy of the batch in pinned host memory."""
        return self._map(_pin)

    def to_dict(self) -> dict[str, torch.Tensor]:
        """Flatten to `{feature.values/.lengths/.weights/.key_lengths, dense feature, label}` tensors.

        This flat dict is the input signature of an exported model.
        """
        out: dict[str, torch.Tensor] = {}
        for kt in self.dense_features.values():
            for key, value in kt.to_dict().items():
                out[key] = value
        for kjt in self.sparse_features.values():
            weights = kjt.weights_or_none()
            for key, jt in kjt.to_dict().items():
                out[f"{key}.values"] = jt.values()
                out[f"{key}.lengths"] = jt.lengths()
                if weights is not None:
                    out[f"{key}.weights"] = jt.weights()
        # multi-value sequences (TorchEasyRec's layout): `.lengths` becomes elements per row and
        # `.key_lengths` ids per element; ids per row are their segment sums
        for kjt in self.sequence_mulval_lengths.values():
            for key, jt in kjt.to_dict().items():
                out[f"{key}.lengths"] = jt.lengths()
                out[f"{key}.key_lengths"] = jt.values()
        for key, jt in self.sequence_dense_features.items():
            out[f"{key}.values"] = jt.values()
            out[f"{key}.lengths"] = jt.lengths()
        out.update(self.labels)
        return out


def _pin(v: Any) -> Any:
    if isinstance(v, KeyedTensor):
        return KeyedTensor(v.keys(), v.length_per_key(), v.values().pin_memory())
    if isinstance(v, JaggedTensor):  # has no pin_memory of its own
        return JaggedTensor(values=v.values().pin_memory(), lengths=v.lengths().pin_memory())
    return v.pin_memory()

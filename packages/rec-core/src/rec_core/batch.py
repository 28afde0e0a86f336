"""The Batch contract: what the feature parser produces and every model consumes.

Needs torch and torchrec (install `rec-core[torch]`, which rec-features brings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torchrec.sparse.jagged_tensor import KeyedJaggedTensor, KeyedTensor
from torchrec.streamable import Pipelineable

BASE_DATA_GROUP = "__BASE__"


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
    labels: dict[str, torch.Tensor] = field(default_factory=dict)
    sample_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    reserves: Any = None
    batch_size: int = 0

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        """A copy of the batch with every tensor on `device`."""
        return Batch(
            dense_features={k: _move(v, device, non_blocking) for k, v in self.dense_features.items()},
            sparse_features={k: _move(v, device, non_blocking) for k, v in self.sparse_features.items()},
            labels={k: _move(v, device, non_blocking) for k, v in self.labels.items()},
            sample_weights={k: _move(v, device, non_blocking) for k, v in self.sample_weights.items()},
            reserves=self.reserves,
            batch_size=self.batch_size,
        )

    def record_stream(self, stream: torch.Stream) -> None:
        """Mark every tensor as used on `stream` (for pipelined GPU copies)."""
        for group in (self.dense_features, self.sparse_features, self.labels, self.sample_weights):
            for v in group.values():
                v.record_stream(stream)

    def pin_memory(self) -> Batch:
        """A copy of the batch in pinned host memory."""
        return Batch(
            dense_features={
                k: KeyedTensor(v.keys(), v.length_per_key(), v.values().pin_memory())
                for k, v in self.dense_features.items()
            },
            sparse_features={k: v.pin_memory() for k, v in self.sparse_features.items()},
            labels={k: v.pin_memory() for k, v in self.labels.items()},
            sample_weights={k: v.pin_memory() for k, v in self.sample_weights.items()},
            reserves=self.reserves,
            batch_size=self.batch_size,
        )

    def to_dict(self) -> dict[str, torch.Tensor]:
        """Flatten to `{feature.values/.lengths/.weights, dense feature, label}` tensors.

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
        out.update(self.labels)
        return out

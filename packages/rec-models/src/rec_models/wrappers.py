"""Wrappers that give a model the call signatures training and export need."""

from collections.abc import Sequence
from typing import Dict, List

import torch
from torch import nn
from torchrec.sparse.jagged_tensor import JaggedTensor, KeyedJaggedTensor, KeyedTensor

from rec_core.batch import BASE_DATA_GROUP, Batch
from rec_models.model import BaseModel


class TrainWrapper(nn.Module):
    """batch -> (total loss, (losses, predictions)), the shape TorchRec's train pipelines expect."""

    def __init__(self, model: BaseModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch) -> tuple[torch.Tensor, tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
        """Predict, compute every loss and their sum."""
        predictions = self.model.predict(batch)
        losses = self.model.loss(predictions, batch)
        total = torch.stack(list(losses.values())).sum()
        return total, ({k: v.detach() for k, v in losses.items()}, {k: v.detach() for k, v in predictions.items()})


class ScriptWrapper(nn.Module):
    """Flat `{feature.values, feature.lengths, dense feature}` tensors -> predictions.

    This is the exported model's signature (see `Batch.to_dict`), so one input dict works for
    the eager model, its FX trace and its TorchScript form.
    """

    def __init__(self, model: BaseModel) -> None:
        super().__init__()
        self.model = model
        self.sparse_keys: List[str] = [f.name for f in model.features if f.is_sparse]
        self.weighted_keys: list[str] = [f.name for f in model.features if f.is_sparse and getattr(f, "weighted", False)]
        self.dense_keys: list[str] = [f.name for f in model.features if not f.is_sparse and not f.is_sequence]
        self.dense_dims: list[int] = [f.value_dim for f in model.features if not f.is_sparse and not f.is_sequence]
        # raw sequences arrive as `<name>.values` [elements, value_dim] and `<name>.lengths`
        self.sequence_dense_keys: list[str] = [f.name for f in model.features if not f.is_sparse and f.is_sequence]
        # multi-value sequences: `.lengths` are elements per row and `.key_lengths` ids per element
        self.mulval_keys: List[str] = [f.name for f in model.features if f.is_sparse and f.is_multi_value_sequence]

    # typing.Dict: TorchScript reads this signature from the FX-generated code
    def forward(self, data: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:  # noqa: UP006
        """Predictions for one batch given as flat tensors."""
        batch = Batch()
        if self.sparse_keys:
            weights = None
            if self.weighted_keys:
                weights = torch.cat(
                    [
                        data[k + ".weights"] if k in self.weighted_keys
                        else torch.ones_like(data[k + ".values"], dtype=torch.float32)
                        for k in self.sparse_keys
                    ]
                )
            batch.sparse_features[BASE_DATA_GROUP] = KeyedJaggedTensor(
                keys=self.sparse_keys,
                values=torch.cat([data[k + ".values"] for k in self.sparse_keys]),
                lengths=torch.cat(
                    [
                        ids_per_row(data[k + ".lengths"], data[k + ".key_lengths"]) if k in self.mulval_keys
                        else data[k + ".lengths"]
                        for k in self.sparse_keys
                    ]
                ),
                weights=weights,
            )
        if self.mulval_keys:
            batch.sequence_mulval_lengths[BASE_DATA_GROUP] = KeyedJaggedTensor(
                keys=self.mulval_keys,
                values=torch.cat([data[k + ".key_lengths"] for k in self.mulval_keys]),
                lengths=torch.cat([data[k + ".lengths"] for k in self.mulval_keys]),
            )
        if self.dense_keys:
            batch.dense_features[BASE_DATA_GROUP] = KeyedTensor(
                keys=self.dense_keys,
                length_per_key=self.dense_dims,
                values=torch.cat([data[k] for k in self.dense_keys], dim=1),
            )
        for k in self.sequence_dense_keys:
            batch.sequence_dense_features[k] = JaggedTensor(values=data[k + ".values"], lengths=data[k + ".lengths"])
        return self.model.predict(batch)


def ids_per_row(seq_lengths: torch.Tensor, key_lengths: torch.Tensor) -> torch.Tensor:
    """Ids per row of a multi-value sequence: key_lengths summed over each row's elements."""
    ends = torch.cumsum(seq_lengths, dim=0)
    csum = torch.cat([torch.zeros(1, dtype=key_lengths.dtype), torch.cumsum(key_lengths, dim=0)])
    return (csum[ends] - csum[ends - seq_lengths]).to(seq_lengths.dtype)


def input_names(sparse_keys: Sequence[str], dense_keys: Sequence[str]) -> list[str]:
    """Names of the flat input tensors, in a stable order."""
    return [f"{k}.{p}" for k in sparse_keys for p in ("values", "lengths")] + list(dense_keys)

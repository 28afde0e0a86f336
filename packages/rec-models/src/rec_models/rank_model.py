"""RankModel: scores a batch of (user, item, context) rows; the base of the ranking models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from rec_core.batch import BASE_DATA_GROUP, Batch
from rec_core.errors import ConfigError
from rec_features.features.base import BaseFeature
from rec_models.embedding_group import EmbeddingGroup
from rec_models.losses import create_loss, weighted_mean
from rec_models.metrics import GroupedAUC, create_metric
from rec_models.model import BaseModel

_REGRESSION_LOSSES = {"l2_loss"}


class RankModel(BaseModel):
    """Builds the embedding group, the output layer, losses and metrics from the ModelConfig."""

    def __init__(
        self,
        model_config: Any,
        features: Sequence[BaseFeature],
        labels: Sequence[str],
        sample_weights: Sequence[str] = (),
        device: torch.device | None = None,
        wide_embedding_dim: int = 4,
        wide_init_fn: str = "",
    ) -> None:
        super().__init__(model_config, features, labels, sample_weights, device)
        if not self.labels:
            raise ConfigError("data_config.label_fields", "a ranking model needs a label field")
        self.num_class = int(model_config.num_class) or 1
        self.embedding_group = EmbeddingGroup(
            features, list(model_config.feature_groups), wide_embedding_dim, device, wide_init_fn=wide_init_fn
        )
        for loss_cfg in model_config.losses:
            name, module = create_loss(loss_cfg, self.num_class)
            self.loss_modules[name] = module
        if not self.loss_modules:
            raise ConfigError("model_config.losses", "no loss is configured (e.g. losses { binary_cross_entropy {} })")
        self._regression = set(self.loss_modules) <= _REGRESSION_LOSSES
        sparse_names = {f.name for f in features if f.is_sparse}
        for i, metric_cfg in enumerate(model_config.metrics):
            name, metric = create_metric(metric_cfg, self.num_class)
            if isinstance(metric, GroupedAUC) and metric.grouping_key not in sparse_names:
                # checked here so a typo fails at build time, not after the first training steps
                raise ConfigError(
                    f"model_config.metrics[{i}].{name}.grouping_key",
                    f"{metric.grouping_key!r} is not a sparse feature; sparse features: {sorted(sparse_names)}",
                )
            self.metrics[name] = metric

    def output_layer(self, in_features: int) -> nn.Linear:
        """The last linear layer mapping to num_class outputs."""
        return nn.Linear(in_features, self.num_class)

    def to_predictions(self, output: torch.Tensor) -> dict[str, torch.Tensor]:
        """logits/probs (classification) or y (regression) from the raw output [B, num_class]."""
        if self._regression:
            return {"y": output.squeeze(1)}
        if self.num_class == 1:
            logits = output.squeeze(1)
            return {"logits": logits, "probs": torch.sigmoid(logits)}
        probs = torch.softmax(output, dim=1)
        preds = {"logits": output, "probs": probs}
        if self.num_class == 2:
            preds["probs1"] = probs[:, 1]
        return preds

    def _score(self, predictions: dict[str, torch.Tensor]) -> torch.Tensor:
        if self._regression:
            return predictions["y"]
        return predictions["probs"] if self.num_class == 1 else predictions.get("probs1", predictions["probs"])

    def loss(self, predictions: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        label = batch.labels[self.labels[0]]
        weights = batch.sample_weights.get(self.sample_weights[0]) if self.sample_weights else None
        out = {}
        for name, module in self.loss_modules.items():
            pred = predictions["y"] if name in _REGRESSION_LOSSES else predictions["logits"]
            out[name] = weighted_mean(module(pred, label), weights)
        return out

    def update_metric(
        self, predictions: dict[str, torch.Tensor], batch: Batch, losses: dict[str, torch.Tensor] | None = None
    ) -> None:
        label = batch.labels[self.labels[0]]
        score = self._score(predictions).detach()
        for name, metric in self.metrics.items():
            if isinstance(metric, GroupedAUC):
                metric.update(score, label, _group_ids(batch, metric.grouping_key))
            elif name in ("mean_squared_error", "mean_absolute_error"):
                metric.update(score, label.float())
            else:
                metric.update(score, label.long())
        if losses:
            self._track_loss(losses, len(label))


def _group_ids(batch: Batch, key: str) -> torch.Tensor:
    """First id of sparse feature `key` per row (-1 when the row has none)."""
    kjt = batch.sparse_features[BASE_DATA_GROUP]
    if key not in kjt.keys():
        raise ConfigError("model_config.metrics.grouped_auc.grouping_key", f"{key!r} is not a sparse feature")
    jt = kjt[key]
    lengths, values = jt.lengths(), jt.values()
    starts = jt.offsets()[:-1]
    first = values[starts.clamp(max=max(len(values) - 1, 0))] if len(values) else torch.zeros_like(lengths, dtype=torch.long)
    return torch.where(lengths > 0, first, torch.full_like(first, -1))

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
from rec_models.metrics import GROUPED, PROBS, create_metric, create_train_metric, metric_input_kind
from rec_models.model import BaseModel
from rec_models.modules.variational_dropout import attach_variational_dropout, variational_dropout_losses


class RankModel(BaseModel):
    """Builds the embedding group, the output layer, losses, metrics and train metrics.

    Predictions: `logits`/`probs` (plus `probs1` with two classes) or `y` for regression
    losses. Subclasses may add prediction sets under a suffix (e.g. `logits_booster`) and
    score them with `compute_losses(..., suffix)`.
    """

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
        attach_variational_dropout(self, self.embedding_group, model_config.feature_groups)
        self._sparse_names = {f.name for f in features if f.is_sparse}
        for i, loss_cfg in enumerate(model_config.losses):
            name, module = create_loss(loss_cfg, self.num_class)
            if name in self.loss_modules:
                raise ConfigError(f"model_config.losses[{i}]", f"{name} is configured twice")
            self._check_grouping_key(module, f"model_config.losses[{i}].{name}.session_name")
            self.loss_modules[name] = module
        if not self.loss_modules:
            raise ConfigError("model_config.losses", "no loss is configured (e.g. losses { binary_cross_entropy {} })")
        self._regression = all(prediction_key(m) == "y" for m in self.loss_modules.values())
        for i, metric_cfg in enumerate(model_config.metrics):
            name, metric = create_metric(metric_cfg, self.num_class)
            self._check_grouping_key(metric, f"model_config.metrics[{i}].{name}.grouping_key")
            self.metrics[name] = metric
        self.train_metrics = nn.ModuleDict()
        for i, metric_cfg in enumerate(model_config.train_metrics):
            name, metric = create_train_metric(metric_cfg, self.num_class)
            self._check_grouping_key(metric, f"model_config.train_metrics[{i}].{name}.grouping_key")
            self.train_metrics[name] = metric

    def _check_grouping_key(self, module: nn.Module, where: str) -> None:
        # checked at build so a typo fails at once, not after the first training steps
        key = getattr(module, "grouping_key", None)
        if key is not None and key not in self._sparse_names:
            raise ConfigError(where, f"{key!r} is not a sparse feature; sparse features: {sorted(self._sparse_names)}")

    def single_group(self, model_name: str) -> str:
        """The one feature group of a model that reads a single group (DCN, MaskNet, ...)."""
        names = self.embedding_group.group_names
        if len(names) != 1:
            raise ConfigError("model_config.feature_groups", f"{model_name} reads exactly one feature group, got {names}")
        return names[0]

    def field_shape(self, group: str, model_name: str) -> tuple[int, int]:
        """(fields, width) of a group whose features share one width, viewed as [B, fields, width]."""
        dims = self.embedding_group.group_dims(group)
        if len(set(dims)) != 1:
            raise ConfigError(
                "model_config.feature_groups",
                f"{model_name} needs one embedding width for the features of group {group!r}, got {dims}",
            )
        return len(dims), dims[0]

    def output_layer(self, in_features: int) -> nn.Linear:
        """The last linear layer mapping to num_class outputs."""
        return nn.Linear(in_features, self.num_class)

    def to_predictions(self, output: torch.Tensor, suffix: str = "") -> dict[str, torch.Tensor]:
        """logits/probs (classification) or y (regression) from the raw output [B, num_class]."""
        if self._regression:
            return {"y" + suffix: output.squeeze(1)}
        if self.num_class == 1:
            logits = output.squeeze(1)
            return {"logits" + suffix: logits, "probs" + suffix: torch.sigmoid(logits)}
        probs = torch.softmax(output, dim=1)
        preds = {"logits" + suffix: output, "probs" + suffix: probs}
        if self.num_class == 2:
            preds["probs1" + suffix] = probs[:, 1]
        return preds

    def _score(self, predictions: dict[str, torch.Tensor], suffix: str = "") -> torch.Tensor:
        if self._regression:
            return predictions["y" + suffix]
        if self.num_class == 1:
            return predictions["probs" + suffix]
        return predictions.get("probs1" + suffix, predictions["probs" + suffix])

    def sample_weight(self, batch: Batch) -> torch.Tensor | None:
        """The batch's sample weights (first `sample_weight_fields` entry), or None."""
        return batch.sample_weights.get(self.sample_weights[0]) if self.sample_weights else None

    def loss(self, predictions: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        """Every configured loss of the main predictions."""
        return self.compute_losses(predictions, batch)

    def compute_losses(
        self, predictions: dict[str, torch.Tensor], batch: Batch, suffix: str = ""
    ) -> dict[str, torch.Tensor]:
        """{loss name + suffix: sample-weighted mean} of the predictions named with `suffix`."""
        label = batch.labels[self.labels[0]]
        weights = self.sample_weight(batch)
        out = {}
        for name, module in self.loss_modules.items():
            pred = predictions[prediction_key(module) + suffix]
            if getattr(module, "extra_input", None) == "group":
                per_sample = module(pred, label, group_ids(batch, module.grouping_key))
            else:
                per_sample = module(pred, label)
            out[name + suffix] = weighted_mean(per_sample, weights)
        if not suffix:
            out.update(variational_dropout_losses(self))
        return out

    def _update(
        self, metrics: nn.ModuleDict, predictions: dict[str, torch.Tensor], batch: Batch, suffix: str = ""
    ) -> None:
        label = batch.labels[self.labels[0]]
        score = self._score(predictions, suffix)
        for metric in metrics.values():
            feed_metric(metric, self.num_class, self._regression, predictions, "probs" + suffix, score, label, batch)

    def update_metric(
        self, predictions: dict[str, torch.Tensor], batch: Batch, losses: dict[str, torch.Tensor] | None = None
    ) -> None:
        self._update(self.metrics, predictions, batch)
        if losses:
            self._track_loss(losses, len(batch.labels[self.labels[0]]))

    def update_train_metric(self, predictions: dict[str, torch.Tensor], batch: Batch) -> None:
        """Feed one training batch to the decayed train metrics (`model_config.train_metrics`)."""
        self._update(self.train_metrics, predictions, batch)

    def compute_train_metric(self) -> dict[str, float]:
        """Current decayed train-metric values; they keep accumulating (no reset)."""
        return {name: float(metric.compute()) for name, metric in self.train_metrics.items()}


def feed_metric(
    metric: nn.Module,
    num_class: int,
    regression: bool,
    predictions: dict[str, torch.Tensor],
    probs_key: str,
    score: torch.Tensor,
    label: torch.Tensor,
    batch: Batch,
) -> None:
    """Update one metric with the input its kind takes: class probabilities, or the score (and group ids)."""
    kind = metric_input_kind(metric, num_class)
    if kind == PROBS:
        metric.update(predictions[probs_key].detach(), label.long())
        return
    target = label.float() if regression else label.long()
    if kind == GROUPED:
        metric.update(score.detach(), target, group_ids(batch, metric.grouping_key))
    else:
        metric.update(score.detach(), target)


def prediction_key(loss: nn.Module) -> str:
    return getattr(loss, "prediction_key", "logits")


def group_ids(batch: Batch, key: str) -> torch.Tensor:
    """First id of sparse feature `key` per row (-1 when the row has none).

    Branch-free, so TorchRec's train pipeline can trace a loss that reads it (JRC).
    """
    jt = batch.sparse_features[BASE_DATA_GROUP][key]
    lengths, values = jt.lengths(), jt.values()
    # one padding id keeps the gather in range when the last rows (or all rows) are empty
    padded = torch.cat([values, torch.zeros(1, dtype=values.dtype, device=values.device)])
    first = padded[jt.offsets()[:-1]]
    return torch.where(lengths > 0, first, torch.full_like(first, -1))

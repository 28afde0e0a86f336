"""BaseModel: predictions, losses and metrics of a model built from a ModelConfig."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchmetrics
from torch import nn

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_core.registry import registry
from rec_features.features.base import BaseFeature


class BaseModel(nn.Module):
    """A model maps a Batch to named predictions; it also owns its losses and metrics."""

    def __init__(
        self,
        model_config: Any,
        features: Sequence[BaseFeature],
        labels: Sequence[str],
        sample_weights: Sequence[str] = (),
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        self.model_config = model_config
        self.features = list(features)
        self.labels = list(labels)
        self.sample_weights = list(sample_weights)
        self.device_hint = device
        self.metrics = nn.ModuleDict()
        self.loss_modules = nn.ModuleDict()
        self._loss_means = nn.ModuleDict()

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Named prediction tensors for a batch."""
        raise NotImplementedError

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Same as `predict`."""
        return self.predict(batch)

    def loss(self, predictions: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        """Named scalar losses; training minimises their sum."""
        raise NotImplementedError

    def update_metric(
        self, predictions: dict[str, torch.Tensor], batch: Batch, losses: dict[str, torch.Tensor] | None = None
    ) -> None:
        """Accumulate metric state for a batch (and running means of the losses)."""
        raise NotImplementedError

    def compute_metric(self) -> dict[str, float]:
        """Current metric values (synchronised across ranks), then reset."""
        out = {}
        for name, metric in list(self.metrics.items()) + list(self._loss_means.items()):
            out[name] = float(metric.compute())
            metric.reset()
        return out

    def _track_loss(self, losses: dict[str, torch.Tensor], rows: int) -> None:
        # weighted by rows, so a short last batch counts as much as its rows, not as a full batch
        for name, value in losses.items():
            if name not in self._loss_means:
                self._loss_means[name] = torchmetrics.MeanMetric().to(value.device)
            self._loss_means[name].update(value.detach(), weight=float(rows))


def create_model(
    model_config: Any,
    features: Sequence[BaseFeature],
    labels: Sequence[str],
    sample_weights: Sequence[str] = (),
    device: torch.device | None = None,
) -> BaseModel:
    """Build the model the ModelConfig oneof names, looked up in `rec.models` by its message name, or
    by `custom_model.model_class` for a third-party model."""
    kind = model_config.WhichOneof("model")
    if kind is None:
        raise ConfigError("model_config", f"no model is set; installed models: {registry('rec.models').names()}")
    if kind == "custom_model":
        name = model_config.custom_model.model_class
        if not name:
            raise ConfigError("model_config.custom_model.model_class", "name the model's `rec.models` entry point")
    else:
        name = type(getattr(model_config, kind)).DESCRIPTOR.name
    cls = registry("rec.models").get(name)
    return cls(model_config, features, labels, sample_weights, device=device)

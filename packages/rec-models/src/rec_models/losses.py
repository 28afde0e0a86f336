"""Losses, each registered under `rec.losses` by its LossConfig oneof name."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_core.registry import registry


class BinaryCrossEntropy(nn.Module):
    """Sigmoid cross-entropy on logits [B]; label smoothing pulls targets toward 0.5."""

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__()
        if num_class != 1:
            raise ConfigError("model_config.num_class", "binary_cross_entropy needs num_class: 1")
        self.label_smoothing = float(config.label_smoothing)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape [B]."""
        target = labels.float()
        if self.label_smoothing > 0:
            target = target * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


class SoftmaxCrossEntropy(nn.Module):
    """Softmax cross-entropy on logits [B, C] against class ids."""

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__()
        if num_class < 2:
            raise ConfigError("model_config.num_class", "softmax_cross_entropy needs num_class >= 2")
        self.label_smoothing = float(config.label_smoothing)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape [B]."""
        return F.cross_entropy(logits, labels.long(), reduction="none", label_smoothing=self.label_smoothing)


class L2Loss(nn.Module):
    """Squared error of a regression output [B]."""

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__()

    def forward(self, y: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape [B]."""
        return (y - labels.float()).pow(2)


def create_loss(loss_config: Any, num_class: int) -> tuple[str, nn.Module]:
    """(name, module) for a LossConfig; the name is its oneof field (e.g. binary_cross_entropy)."""
    kind = loss_config.WhichOneof("loss")
    if kind is None:
        raise ConfigError("model_config.losses", "a loss entry sets no loss type")
    return kind, registry("rec.losses").get(kind)(getattr(loss_config, kind), num_class)


def weighted_mean(per_sample: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Mean loss; sample weights are normalised by their batch mean (all-zero weights give 0)."""
    if weights is None:
        return per_sample.mean()
    w = weights.float()
    mean_w = w.mean()
    norm = torch.where(mean_w > 0, w / mean_w.clamp_min(1e-12), torch.zeros_like(w))
    return (per_sample * norm).mean()

"""Losses, each registered under `rec.losses` by its LossConfig oneof name.

A loss module maps (prediction, labels) to a per-sample loss [B], so sample weights apply
the same way to every loss (see `weighted_mean`). The prediction is `logits` unless the
module's `prediction_key` names another (L2Loss: `y`, a regression output). Losses that need more than the label name
it in `extra_input`: JRC sets `extra_input = "group"` and `grouping_key` (a sparse feature), and
the model passes the first id of that feature per row as a third argument.
"""

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


class BinaryFocalLoss(nn.Module):
    """Focal loss on logits [B]: -alpha_t (1 - p_t)^gamma log(p_t) (Lin et al., 2017).

    p_t is the probability given to the true class; alpha weighs positives, 1 - alpha negatives.
    With gamma 0 and alpha 0.5 it is half the binary cross-entropy.
    """

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__()
        if num_class != 1:
            raise ConfigError("model_config.num_class", "binary_focal_loss needs num_class: 1")
        self.gamma, self.alpha = float(config.gamma), float(config.alpha)
        if self.gamma < 0:
            raise ConfigError("model_config.losses.binary_focal_loss.gamma", f"must be >= 0, got {self.gamma}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError("model_config.losses.binary_focal_loss.alpha", f"must be in [0, 1], got {self.alpha}")

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape [B]."""
        target = labels.float()
        ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p_t = torch.exp(-ce)
        alpha_t = self.alpha * target + (1 - self.alpha) * (1 - target)
        return alpha_t * (1 - p_t).pow(self.gamma) * ce


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

    prediction_key = "y"

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__()

    def forward(self, y: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape [B]."""
        return (y - labels.float()).pow(2)


# an opaque call under FX: TorchRec's train pipeline traces the loss, and the group count is data
@torch.fx.wrap
def group_log_softmax(scores: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """log softmax of each score among the scores of its group (rows with the same id)."""
    _, inverse = torch.unique(groups, return_inverse=True)
    num = int(inverse.max()) + 1 if inverse.numel() else 0
    # a per-group max keeps exp() finite, as in logsumexp
    top = torch.full((num,), float("-inf"), dtype=scores.dtype, device=scores.device)
    top = top.scatter_reduce(0, inverse, scores.detach(), reduce="amax")
    shifted = scores - top[inverse]
    sums = torch.zeros(num, dtype=scores.dtype, device=scores.device).index_add(0, inverse, shifted.exp())
    return shifted - sums.log()[inverse]


class JRCLoss(nn.Module):
    """Joint ranking and calibration (Sheng et al., 2023) on two-class logits [B, 2].

    alpha * cross-entropy (calibration) + (1 - alpha) * a session-wise ranking term: a
    positive row's class-1 logit competes in a softmax with the class-1 logits of every row of
    its session, a negative row's class-0 logit with the class-0 logits. Sessions are the
    first id of the sparse feature `session_name`.
    """

    extra_input = "group"

    def __init__(self, config: Any, num_class: int) -> None:
        super().__init__()
        if num_class != 2:
            raise ConfigError("model_config.num_class", "jrc_loss needs num_class: 2")
        if not config.session_name:
            raise ConfigError("model_config.losses.jrc_loss.session_name", "names the sparse feature holding session ids")
        self.grouping_key = config.session_name
        self.alpha = float(config.alpha)
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError("model_config.losses.jrc_loss.alpha", f"must be in [0, 1], got {self.alpha}")

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, sessions: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape [B]."""
        labels = labels.long()
        ce = F.cross_entropy(logits, labels, reduction="none")
        log_p = torch.stack([group_log_softmax(logits[:, c], sessions) for c in (0, 1)], dim=1)
        ranking = -log_p.gather(1, labels.unsqueeze(1)).squeeze(1)
        return self.alpha * ce + (1 - self.alpha) * ranking


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

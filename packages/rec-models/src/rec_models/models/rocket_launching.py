"""Rocket Launching (Zhou et al., 2018): a light net learns beside a booster net on a shared
bottom and is distilled from it; only the light net is served.

Training predictions: `logits`/`probs` (light) and `logits_booster`/`probs_booster`. Losses:
every configured loss on both nets, `hint_loss` (squared gap between the light and the
booster logits, the booster side held fixed), optional `feature_distill_loss` (hidden layers
of equal index pulled toward the booster's) and `l2_regularization` on the nets' weights.
In eval mode (evaluation, export) only the light net runs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.losses import weighted_mean
from rec_models.modules.mlp import MLP
from rec_models.rank_model import RankModel

_COSINE, _INNER_PRODUCT, _EUCLID = 0, 1, 2
BOOSTER = "_booster"


class RocketLaunching(RankModel):
    """One feature group -> [share_mlp] -> light_mlp (served) and booster_mlp (training only)."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg, where = model_config.rocket_launching, "model_config.rocket_launching"
        self.group = self.single_group("RocketLaunching")
        width = self.embedding_group.group_total_dim(self.group)
        self.share = MLP.from_config(width, cfg.share_mlp, f"{where}.share_mlp") if cfg.HasField("share_mlp") else None
        if self.share is not None:
            width = self.share.output_dim
        self.booster = MLP.from_config(width, cfg.booster_mlp, f"{where}.booster_mlp")
        self.light = MLP.from_config(width, cfg.light_mlp, f"{where}.light_mlp")
        self.booster_output = self.output_layer(self.booster.output_dim)
        self.output = self.output_layer(self.light.output_dim)
        self.l2_regularization = float(cfg.l2_regularization)
        self.feature_distillation = bool(cfg.feature_based_distillation)
        self.similarity = int(cfg.feature_distillation_function)
        if self.feature_distillation:
            self._check_distillation(where)

    def _check_distillation(self, where: str) -> None:
        if self.similarity == _INNER_PRODUCT:
            raise ConfigError(
                f"{where}.feature_distillation_function",
                "INNER_PRODUCT is unbounded as a distance; use COSINE or EUCLID",
            )
        light, booster = self.light.hidden_dims, self.booster.hidden_dims
        for i, (a, b) in enumerate(zip(light, booster)):
            if a != b:
                raise ConfigError(
                    f"{where}.light_mlp.hidden_units[{i}]",
                    f"feature distillation pairs layer {i} of both nets, so its width must equal booster_mlp's {b}, got {a}",
                )

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = self.embedding_group(batch)[self.group]
        if self.share is not None:
            x = self.share(x)
        if not self.training:
            return self.to_predictions(self.output(self.light(x)))
        light = self.light.hidden_outputs(x)
        booster = self.booster.hidden_outputs(x)
        preds = self.to_predictions(self.output(light[-1]))
        preds.update(self.to_predictions(self.booster_output(booster[-1]), BOOSTER))
        if self.feature_distillation:
            pairs = list(zip(light, booster))
            preds["feature_distance"] = torch.stack([self._distance(a, b.detach()) for a, b in pairs]).mean(dim=0)
        return preds

    def _distance(self, light: torch.Tensor, booster: torch.Tensor) -> torch.Tensor:
        """Per-row distance of a light hidden layer from the booster's: 1 - cosine, or squared L2."""
        if self.similarity == _COSINE:
            return 1 - F.cosine_similarity(light, booster, dim=1)
        return (light - booster).pow(2).sum(dim=1)

    def loss(self, predictions: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        losses = self.compute_losses(predictions, batch)
        if "logits" + BOOSTER not in predictions and "y" + BOOSTER not in predictions:
            return losses  # eval mode: the light net alone
        losses.update(self.compute_losses(predictions, batch, BOOSTER))
        key = "y" if self._regression else "logits"
        gap = predictions[key] - predictions[key + BOOSTER].detach()
        weights = self.sample_weight(batch)
        losses["hint_loss"] = weighted_mean(gap.pow(2), weights)
        if "feature_distance" in predictions:
            losses["feature_distill_loss"] = weighted_mean(predictions["feature_distance"], weights)
        if self.l2_regularization > 0:
            losses["l2_regularization"] = self.l2_regularization * self._weight_norm()
        return losses

    def _weight_norm(self) -> torch.Tensor:
        nets = [self.light, self.booster, self.output, self.booster_output] + ([self.share] if self.share is not None else [])
        weights = [m.weight for net in nets for m in net.modules() if isinstance(m, nn.Linear)]
        return torch.stack([w.pow(2).sum() for w in weights]).sum() / 2

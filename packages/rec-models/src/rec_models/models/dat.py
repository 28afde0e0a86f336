"""DAT: dual augmented two-tower model (Yu et al., DLP-KDD 2021).

Each tower also reads an augmented vector (a feature group, e.g. the id's own embedding of
width output_dim). The adaptive-mimic mechanism trains the user's augmented vector towards
the tower embedding of its positive item and the item's towards its user's, with the tower
outputs held fixed, so each tower sees a summary of what the other side has learned.
"""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.match_model import COSINE, MatchModel, MatchTower, group_embedding


class DAT(MatchModel):
    """`user_tower` / `item_tower` are DATTower {input, augment_input, mlp}; losses add `amm_loss_u` / `amm_loss_i`."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.dat
        self.amm_u_weight, self.amm_i_weight = float(cfg.amm_u_weight), float(cfg.amm_i_weight)
        cosine = self.similarity == COSINE
        self.user_input = group_embedding(self, self.user_groups, f"{self.where}.user_tower")
        self.item_input = group_embedding(self, self.item_groups, f"{self.where}.item_tower")
        towers = {}
        for side, tower_cfg, emb in (("user", cfg.user_tower, self.user_input), ("item", cfg.item_tower, self.item_input)):
            width = emb.group_total_dim(tower_cfg.augment_input)
            if width != self.output_dim:
                raise ConfigError(
                    f"{self.where}.{side}_tower.augment_input",
                    f"group {tower_cfg.augment_input!r} is {width} wide; the augmented vector mimics a tower "
                    f"embedding, so it must be output_dim ({self.output_dim}) wide",
                )
            in_features = emb.group_total_dim(tower_cfg.input) + width
            towers[side] = MatchTower(in_features, tower_cfg.mlp, self.output_dim, cosine)
        self.user_tower, self.item_tower = towers["user"], towers["item"]

    def tower_groups(self, cfg: Any) -> tuple[list[str], list[str]]:
        return (
            [cfg.user_tower.input, cfg.user_tower.augment_input],
            [cfg.item_tower.input, cfg.item_tower.augment_input],
        )

    def _side(self, batch: Batch, user: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(tower embedding, augmented vector) of one side."""
        emb, (main, augment) = (self.user_input, self.user_groups) if user else (self.item_input, self.item_groups)
        groups = emb(batch)
        vector = groups[augment]
        tower = self.user_tower if user else self.item_tower
        return tower(torch.cat([groups[main], vector], dim=1)), vector

    def user_tower_emb(self, batch: Batch) -> torch.Tensor:
        return self._side(batch, True)[0]

    def item_tower_emb(self, batch: Batch) -> torch.Tensor:
        return self._side(batch, False)[0]

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        user, user_augment = self._side(batch, True)
        item, item_augment = self._side(batch, False)
        return {
            "similarity": self.sim(user, item, batch),
            "user_tower_emb": user,
            "item_tower_emb": item,
            "user_augment": user_augment,
            "item_augment": item_augment,
        }

    def loss(self, predictions: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        losses = super().loss(predictions, batch)
        user, item = predictions["user_tower_emb"], predictions["item_tower_emb"]
        b = user.size(0)
        # positives only (the first B item rows); the targets are held fixed
        losses["amm_loss_u"] = self.amm_u_weight * (predictions["user_augment"] - item[:b].detach()).pow(2).sum(1).mean()
        losses["amm_loss_i"] = self.amm_i_weight * (predictions["item_augment"][:b] - user.detach()).pow(2).sum(1).mean()
        return losses

"""DSSM: two independent towers (each with its own embedding tables) scored by dot product or cosine."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.match_model import COSINE, MatchModel, MatchTower, group_embedding, tower_mlp


class DSSM(MatchModel):
    """`user_tower { input mlp }`, `item_tower { input mlp }`, `output_dim`, similarity, temperature."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = getattr(model_config, self.kind)
        cosine = self.similarity == COSINE
        self.user_input = group_embedding(self, self.user_groups, f"{self.where}.user_tower.input")
        self.item_input = group_embedding(self, self.item_groups, f"{self.where}.item_tower.input")
        u, i = cfg.user_tower.input, cfg.item_tower.input
        self.user_tower = MatchTower(self.user_input.group_total_dim(u), tower_mlp(cfg.user_tower), self.output_dim, cosine)
        self.item_tower = MatchTower(self.item_input.group_total_dim(i), tower_mlp(cfg.item_tower), self.output_dim, cosine)

    def user_tower_emb(self, batch: Batch) -> torch.Tensor:
        return self.user_tower(self.user_input(batch)[self.user_groups[0]])

    def item_tower_emb(self, batch: Batch) -> torch.Tensor:
        return self.item_tower(self.item_input(batch)[self.item_groups[0]])

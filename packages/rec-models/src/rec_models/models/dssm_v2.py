"""DSSMV2: DSSM whose towers share one embedding group, so a table named in both towers is one table."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.match_model import COSINE, MatchModel, MatchTower, group_embedding, tower_mlp


class DSSMV2(MatchModel):
    """As DSSM; features of the two towers with one `embedding_name` look up the same rows."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.dssm_v2
        cosine = self.similarity == COSINE
        self.embedding = group_embedding(self, self.user_groups + self.item_groups, f"{self.where}.user_tower.input")
        u, i = cfg.user_tower.input, cfg.item_tower.input
        self.user_tower = MatchTower(self.embedding.group_total_dim(u), tower_mlp(cfg.user_tower), self.output_dim, cosine)
        self.item_tower = MatchTower(self.embedding.group_total_dim(i), tower_mlp(cfg.item_tower), self.output_dim, cosine)

    def user_tower_emb(self, batch: Batch) -> torch.Tensor:
        return self.user_tower(self.embedding(batch)[self.user_groups[0]])

    def item_tower_emb(self, batch: Batch) -> torch.Tensor:
        return self.item_tower(self.embedding(batch)[self.item_groups[0]])

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding(batch)  # one lookup serves both towers
        user = self.user_tower(groups[self.user_groups[0]])
        item = self.item_tower(groups[self.item_groups[0]])
        return {"similarity": self.sim(user, item, batch), "user_tower_emb": user, "item_tower_emb": item}

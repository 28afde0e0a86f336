"""MultiTower: one MLP tower per feature group, concatenated into a final MLP."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_models.modules.mlp import MLP
from rec_models.rank_model import RankModel


class MultiTower(RankModel):
    """Each `towers { input: <group> mlp {...} }` encodes its group; `final` joins them."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.multi_tower
        eg = self.embedding_group
        self.tower_inputs = [t.input for t in cfg.towers]
        self.towers = nn.ModuleList(
            MLP.from_config(eg.group_total_dim(t.input), t.mlp) if t.HasField("mlp") else nn.Identity()
            for t in cfg.towers
        )
        width = sum(
            t.output_dim if isinstance(t, MLP) else eg.group_total_dim(name)
            for t, name in zip(self.towers, self.tower_inputs)
        )
        self.final = MLP.from_config(width, cfg.final)
        self.output = self.output_layer(self.final.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        towers = [tower(groups[name]) for tower, name in zip(self.towers, self.tower_inputs)]
        return self.to_predictions(self.output(self.final(torch.cat(towers, dim=1))))

"""MultiTowerDIN: MultiTower plus DIN target-attention towers over sequence groups."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.modules.mlp import MLP
from rec_models.modules.sequence import DINEncoder
from rec_models.rank_model import RankModel


class MultiTowerDIN(RankModel):
    """`towers { input mlp }` encode DEEP groups, `din_towers { input attn_mlp }` attend over a
    SEQUENCE group's history with its query; `final` joins all tower outputs."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.multi_tower_din
        where = "model_config.multi_tower_din"
        eg = self.embedding_group
        if not cfg.towers and not cfg.din_towers:
            raise ConfigError(f"{where}.towers", "needs at least one tower or din_tower")
        self.tower_inputs = [t.input for t in cfg.towers]
        self.towers = nn.ModuleList(
            MLP.from_config(eg.group_total_dim(t.input), t.mlp, f"{where}.towers[{i}].mlp") if t.HasField("mlp") else nn.Identity()
            for i, t in enumerate(cfg.towers)
        )
        self.din_towers = nn.ModuleList()
        for i, t in enumerate(cfg.din_towers):
            if not eg.is_sequence_group(t.input):
                raise ConfigError(f"{where}.din_towers[{i}].input", f"{t.input!r} is not a SEQUENCE group")
            self.din_towers.append(
                DINEncoder(
                    t.input,
                    eg.group_total_dim(f"{t.input}.query"),
                    eg.group_total_dim(f"{t.input}.sequence"),
                    t.attn_mlp,
                    where=f"{where}.din_towers[{i}]",
                )
            )
        width = sum(
            t.output_dim if isinstance(t, MLP) else eg.group_total_dim(name) for t, name in zip(self.towers, self.tower_inputs)
        ) + sum(d.output_dim for d in self.din_towers)
        self.final = MLP.from_config(width, cfg.final, f"{where}.final")
        self.output = self.output_layer(self.final.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        towers = [tower(groups[name]) for tower, name in zip(self.towers, self.tower_inputs)]
        towers += [din(groups) for din in self.din_towers]
        return self.to_predictions(self.output(self.final(torch.cat(towers, dim=1))))

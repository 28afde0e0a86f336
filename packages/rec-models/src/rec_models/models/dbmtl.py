"""DBMTL: deep Bayesian multi-target learning (Alibaba).

A shared bottom (optional MaskNet, MLP and MMoE experts, in that order) feeds one tower per
task; a tower with `relation_tower_names` also sees the relation outputs of those (earlier)
towers, so later targets are conditioned on earlier ones (e.g. conversion on click).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_models.modules.shared_bottom import SharedBottom, optional_mlp
from rec_models.multi_task_rank import MultiTaskRank


class DBMTL(MultiTaskRank):
    """Optional `mask_net`, `bottom_mlp` and `expert_mlp` (+ `gate_mlp`, `num_expert`), then BayesTaskTower heads."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        self.bottom = SharedBottom(self.input_dim, model_config.dbmtl, len(self.tasks), "model_config.dbmtl")
        self.relations = []
        tower_mlps, relation_mlps, outputs = [], [], []
        relation_dims: list[int] = []
        for i, (t, task) in enumerate(zip(self.tower_configs, self.tasks)):
            where = self.tower_where(i)
            mlp, hidden = optional_mlp(self.bottom.output_dim, t, "mlp", where)
            related = self.earlier_towers(i, "relation_tower_names")
            relation_mlp, width = optional_mlp(hidden + sum(relation_dims[k] for k in related), t, "relation_mlp", where)
            tower_mlps.append(mlp)
            relation_mlps.append(relation_mlp)
            outputs.append(nn.Linear(width, task.num_class))
            relation_dims.append(width)
            self.relations.append(related)
        self.tower_mlps = nn.ModuleList(tower_mlps)
        self.relation_mlps = nn.ModuleList(relation_mlps)
        self.outputs = nn.ModuleList(outputs)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        task_inputs = self.bottom(self.build_input(batch))
        relation_out: list[torch.Tensor] = []
        outputs = []
        for i, related in enumerate(self.relations):
            h = self.tower_mlps[i](task_inputs[i])
            r = self.relation_mlps[i](torch.cat([h] + [relation_out[k] for k in related], dim=1))
            relation_out.append(r)
            outputs.append(self.outputs[i](r))
        return self.to_predictions(outputs)

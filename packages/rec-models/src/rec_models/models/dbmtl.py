"""DBMTL: deep Bayesian multi-target learning (Alibaba).

A shared bottom (optional MaskNet, MLP and MMoE experts, in that order) feeds one tower per task; a tower
with `relation_tower_names` also sees the relation outputs of those (earlier) towers, so
later targets are conditioned on earlier ones (e.g. conversion on click).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.modules.mask_net import MaskNetModule
from rec_models.modules.mlp import MLP
from rec_models.modules.mmoe import MMoE as MMoEModule
from rec_models.multi_task_rank import MultiTaskRank


def _mlp_or_identity(width: int, cfg: Any, field: str) -> tuple[nn.Module, int]:
    if not cfg.HasField(field):
        return nn.Identity(), width
    mlp = MLP.from_config(width, getattr(cfg, field))
    return mlp, mlp.output_dim


class DBMTL(MultiTaskRank):
    """Optional `mask_net`, `bottom_mlp` and `expert_mlp` (+ `gate_mlp`, `num_expert`), then BayesTaskTower heads."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.dbmtl
        self.mask_net = None
        width = self.input_dim
        if cfg.HasField("mask_net"):
            self.mask_net = MaskNetModule(width, cfg.mask_net, "model_config.dbmtl.mask_net")
            width = self.mask_net.output_dim
        self.bottom, width = _mlp_or_identity(width, cfg, "bottom_mlp")
        self.mmoe = None
        if cfg.HasField("expert_mlp"):
            gate = cfg.gate_mlp if cfg.HasField("gate_mlp") else None
            self.mmoe = MMoEModule(width, cfg.expert_mlp, int(cfg.num_expert), len(self.tasks), gate, "model_config.dbmtl")
            width = self.mmoe.output_dim
        names = [t.name for t in self.tasks]
        self.relations = []
        tower_mlps, relation_mlps, outputs = [], [], []
        relation_dims: list[int] = []
        for i, (t, task) in enumerate(zip(self.tower_configs, self.tasks)):
            mlp, h = _mlp_or_identity(width, t, "mlp")
            related = []
            for j, r in enumerate(t.relation_tower_names):
                if r not in names[:i]:
                    raise ConfigError(
                        f"{self.tower_where(i)}.relation_tower_names[{j}]",
                        f"{r!r} must name an earlier task tower; towers before {task.name!r}: {names[:i]}",
                    )
                related.append(names.index(r))
            rel_in = h + sum(relation_dims[k] for k in related)
            rel_mlp, rel_out = _mlp_or_identity(rel_in, t, "relation_mlp")
            tower_mlps.append(mlp)
            relation_mlps.append(rel_mlp)
            outputs.append(nn.Linear(rel_out, task.num_class))
            relation_dims.append(rel_out)
            self.relations.append(related)
        self.tower_mlps = nn.ModuleList(tower_mlps)
        self.relation_mlps = nn.ModuleList(relation_mlps)
        self.outputs = nn.ModuleList(outputs)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = self.build_input(batch)
        if self.mask_net is not None:
            x = self.mask_net(x)
        x = self.bottom(x)
        task_inputs = self.mmoe(x) if self.mmoe is not None else [x] * len(self.tasks)
        relation_out: list[torch.Tensor] = []
        outputs = []
        for i, related in enumerate(self.relations):
            h = self.tower_mlps[i](task_inputs[i])
            r = self.relation_mlps[i](torch.cat([h] + [relation_out[k] for k in related], dim=1))
            relation_out.append(r)
            outputs.append(self.outputs[i](r))
        return self.to_predictions(outputs)

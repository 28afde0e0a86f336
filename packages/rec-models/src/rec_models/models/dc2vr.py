"""DC2VR: multi-task ranking whose later towers are intervened on by earlier ones.

A shared bottom (optional MLP, optionally MMoE experts) feeds one tower per task. A tower
with `intervention_tower_names` replaces the component of its representation that lies in a
learned low-rank subspace (an orthogonal rotation of `low_rank_dim` directions, one per
source tower) with the source tower's, e.g. a conversion tower takes its click-related
directions from the click tower.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.modules.intervention import LowRankIntervention
from rec_models.modules.shared_bottom import SharedBottom, optional_mlp
from rec_models.multi_task_rank import MultiTaskRank


class DC2VR(MultiTaskRank):
    """`bottom_mlp`, `expert_mlp` (+ `gate_mlp`, `num_expert`), InterventionTaskTower heads."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        self.bottom = SharedBottom(self.input_dim, model_config.dc2vr, len(self.tasks), "model_config.dc2vr")
        tower_mlps, interventions, outputs = [], [], []
        self.sources = []
        widths: list[int] = []
        for i, (t, task) in enumerate(zip(self.tower_configs, self.tasks)):
            where = self.tower_where(i)
            mlp, width = optional_mlp(self.bottom.output_dim, t, "mlp", where)
            sources = self.earlier_towers(i, "intervention_tower_names")
            for j, k in enumerate(sources):
                if widths[k] != width:
                    raise ConfigError(
                        f"{where}.intervention_tower_names[{j}]",
                        f"tower {self.tasks[k].name!r} is {widths[k]} wide, {task.name!r} {width}; intervening needs equal widths",
                    )
            interventions.append(
                nn.ModuleList(
                    LowRankIntervention(width, int(t.low_rank_dim), float(t.dropout_ratio), f"{where}.low_rank_dim")
                    for _ in sources
                )
            )
            tower_mlps.append(mlp)
            outputs.append(nn.Linear(width, task.num_class))
            widths.append(width)
            self.sources.append(sources)
        self.tower_mlps = nn.ModuleList(tower_mlps)
        self.interventions = nn.ModuleList(interventions)
        self.outputs = nn.ModuleList(outputs)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        task_inputs = self.bottom(self.build_input(batch))
        hidden: list[torch.Tensor] = []
        outputs = []
        for i, sources in enumerate(self.sources):
            h = self.tower_mlps[i](task_inputs[i])
            for j, k in enumerate(sources):
                h = self.interventions[i][j](h, hidden[k])
            hidden.append(h)
            outputs.append(self.outputs[i](h))
        return self.to_predictions(outputs)

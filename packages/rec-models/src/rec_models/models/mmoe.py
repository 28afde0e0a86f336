"""MMoE: shared experts mixed per task by softmax gates, then one tower per task."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.modules.mmoe import MMoE as MMoEModule
from rec_models.multi_task_rank import MultiTaskRank


class MMoE(MultiTaskRank):
    """`expert_mlp`, optional `gate_mlp`, `num_expert` experts, `task_towers` heads."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.mmoe
        self.mmoe = MMoEModule(
            self.input_dim,
            cfg.expert_mlp,
            int(cfg.num_expert),
            len(self.tasks),
            cfg.gate_mlp if cfg.HasField("gate_mlp") else None,
            where="model_config.mmoe",
        )
        self.towers = self.task_towers(self.mmoe.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        task_inputs = self.mmoe(self.build_input(batch))
        # indexed, not iterated: TorchRec's train pipeline traces this with the experts as an opaque leaf
        return self.to_predictions([tower(task_inputs[i]) for i, tower in enumerate(self.towers)])

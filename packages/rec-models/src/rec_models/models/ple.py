"""PLE: stacked extraction layers of task and shared experts, then one tower per task."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.modules.ple import PLE as PLEModule
from rec_models.multi_task_rank import MultiTaskRank


class PLE(MultiTaskRank):
    """`extraction_networks` (task/shared experts per layer) and `task_towers` heads."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.ple
        self.ple = PLEModule(self.input_dim, list(cfg.extraction_networks), len(self.tasks), where="model_config.ple")
        self.towers = self.task_towers(self.ple.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        task_inputs = self.ple(self.build_input(batch))
        # indexed, not iterated: TorchRec's train pipeline traces this with PLE as an opaque leaf
        return self.to_predictions([tower(task_inputs[i]) for i, tower in enumerate(self.towers)])

"""SimpleMultiTask: every task tower reads the shared feature input directly."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.multi_task_rank import MultiTaskRank


class SimpleMultiTask(MultiTaskRank):
    """`task_towers { tower_name label_name mlp losses metrics }` over all feature groups."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        self.towers = self.task_towers(self.input_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = self.build_input(batch)
        return self.to_predictions([tower(x) for tower in self.towers])

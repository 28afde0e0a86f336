"""MaskNet (Wang et al., 2021): instance-guided mask blocks over one feature group."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.modules.mask_net import MaskNetModule
from rec_models.rank_model import RankModel


class MaskNet(RankModel):
    """One feature group -> MaskNetModule (parallel or serial blocks, optional top MLP) -> output."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        self.group = self.single_group("MaskNet")
        width = self.embedding_group.group_total_dim(self.group)
        self.mask_net = MaskNetModule(width, model_config.mask_net.mask_net_module, "model_config.mask_net.mask_net_module")
        self.output = self.output_layer(self.mask_net.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = self.embedding_group(batch)[self.group]
        return self.to_predictions(self.output(self.mask_net(x)))

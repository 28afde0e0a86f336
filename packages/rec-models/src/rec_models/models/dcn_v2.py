"""DCN-v2 (Wang et al., 2021), stacked: optional backbone MLP -> cross network v2 -> optional deep MLP."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.modules.cross import cross_net_v2
from rec_models.modules.mlp import MLP
from rec_models.rank_model import RankModel


class DCNV2(RankModel):
    """One feature group -> [backbone] -> CrossV2 (low-rank `low_rank`) -> [deep] -> `final` -> output."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg, where = model_config.dcn_v2, "model_config.dcn_v2"
        self.group = self.single_group("DCNV2")
        width = self.embedding_group.group_total_dim(self.group)
        self.backbone = MLP.from_config(width, cfg.backbone, f"{where}.backbone") if cfg.HasField("backbone") else None
        if self.backbone is not None:
            width = self.backbone.output_dim
        self.cross = cross_net_v2(width, cfg.cross, f"{where}.cross")
        self.deep = MLP.from_config(width, cfg.deep, f"{where}.deep") if cfg.HasField("deep") else None
        if self.deep is not None:
            width = self.deep.output_dim
        self.final = MLP.from_config(width, cfg.final, f"{where}.final")
        self.output = self.output_layer(self.final.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = self.embedding_group(batch)[self.group]
        if self.backbone is not None:
            x = self.backbone(x)
        x = self.cross(x)
        if self.deep is not None:
            x = self.deep(x)
        return self.to_predictions(self.output(self.final(x)))

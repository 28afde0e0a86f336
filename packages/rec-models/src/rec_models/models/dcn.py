"""DCN (Wang et al., 2017): a cross network and a deep MLP side by side over one feature group."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.modules.cross import cross_net
from rec_models.modules.mlp import MLP
from rec_models.rank_model import RankModel


class DCNV1(RankModel):
    """One feature group -> [cross network, deep MLP] concatenated -> `final` MLP -> output."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg, where = model_config.dcn_v1, "model_config.dcn_v1"
        self.group = self.single_group("DCNV1")
        width = self.embedding_group.group_total_dim(self.group)
        self.cross = cross_net(width, cfg.cross, f"{where}.cross")
        self.deep = MLP.from_config(width, cfg.deep, f"{where}.deep")
        self.final = MLP.from_config(width + self.deep.output_dim, cfg.final, f"{where}.final")
        self.output = self.output_layer(self.final.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = self.embedding_group(batch)[self.group]
        joined = torch.cat([self.cross(x), self.deep(x)], dim=1)
        return self.to_predictions(self.output(self.final(joined)))

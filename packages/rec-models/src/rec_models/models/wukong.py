"""WuKong (Zhang et al., 2024): stacked FM / linear-compression layers over equal-width embeddings."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.modules.mlp import MLP
from rec_models.modules.wukong import WuKongLayer
from rec_models.rank_model import RankModel


class WuKong(RankModel):
    """Groups: `sparse` (one embedding width D) and optionally `dense` (mapped to one more
    embedding by `dense_mlp`, whose last unit count must be D). `final` MLP over the last
    layer's embeddings, flattened."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg, where = model_config.wukong, "model_config.wukong"
        eg = self.embedding_group
        self.num_sparse, self.dim = self.field_shape("sparse", "WuKong")
        self.dense_mlp = None
        if eg.has_group("dense"):
            if not cfg.HasField("dense_mlp"):
                raise ConfigError(f"{where}.dense_mlp", "a `dense` group needs dense_mlp")
            self.dense_mlp = MLP.from_config(eg.group_total_dim("dense"), cfg.dense_mlp, f"{where}.dense_mlp")
            if self.dense_mlp.output_dim != self.dim:
                raise ConfigError(
                    f"{where}.dense_mlp.hidden_units",
                    f"the last unit count must equal the sparse embedding width {self.dim}, got {self.dense_mlp.output_dim}",
                )
        count = self.num_sparse + (1 if self.dense_mlp is not None else 0)
        layers = []
        for i, layer_cfg in enumerate(cfg.wukong_layers):
            layer = WuKongLayer(count, self.dim, layer_cfg, f"{where}.wukong_layers[{i}]")
            layers.append(layer)
            count = layer.num_out
        self.layers = nn.Sequential(*layers)
        self.final = MLP.from_config(count * self.dim, cfg.final, f"{where}.final")
        self.output = self.output_layer(self.final.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        x = groups["sparse"].view(-1, self.num_sparse, self.dim)
        if self.dense_mlp is not None:
            x = torch.cat([self.dense_mlp(groups["dense"]).unsqueeze(1), x], dim=1)
        return self.to_predictions(self.output(self.final(self.layers(x).flatten(1))))

"""DLRM: dense MLP plus pairwise dot interactions of the dense vector and sparse embeddings."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.modules.interaction import DotInteraction
from rec_models.modules.mlp import MLP
from rec_models.rank_model import RankModel


class DLRM(RankModel):
    """Groups: `sparse` (sparse features of one embedding_dim) and optionally `dense`."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.dlrm
        eg = self.embedding_group
        dims = eg.group_dims("sparse")
        if len(set(dims)) != 1:
            raise ConfigError("model_config.feature_groups", f"DLRM's sparse group needs one embedding_dim, got {dims}")
        self.num_sparse, self.dim = len(dims), dims[0]
        self.dense_mlp = None
        if eg.has_group("dense"):
            if not cfg.HasField("dense_mlp"):
                raise ConfigError("model_config.dlrm.dense_mlp", "a `dense` group needs dense_mlp")
            self.dense_mlp = MLP.from_config(eg.group_total_dim("dense"), cfg.dense_mlp)
            if self.dense_mlp.output_dim != self.dim:
                raise ConfigError(
                    "model_config.dlrm.dense_mlp.hidden_units",
                    f"the last unit count must equal the sparse embedding_dim {self.dim}, got {self.dense_mlp.output_dim}",
                )
        self.arch_with_sparse = bool(cfg.arch_with_sparse)
        n = self.num_sparse + (1 if self.dense_mlp is not None else 0)
        self.interaction = DotInteraction(n)
        width = self.interaction.output_dim + (self.dim if self.dense_mlp is not None else 0)
        width += self.num_sparse * self.dim if self.arch_with_sparse else 0
        self.final = MLP.from_config(width, cfg.final)
        self.output = self.output_layer(self.final.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        sparse = groups["sparse"]
        vectors = sparse.view(-1, self.num_sparse, self.dim)
        parts = []
        if self.dense_mlp is not None:
            dense = self.dense_mlp(groups["dense"])
            vectors = torch.cat([dense.unsqueeze(1), vectors], dim=1)
            parts.append(dense)
        parts.append(self.interaction(vectors))
        if self.arch_with_sparse:
            parts.append(sparse)
        return self.to_predictions(self.output(self.final(torch.cat(parts, dim=1))))

"""xDeepFM (Lian et al., 2018): wide (first-order) + CIN (explicit vector-wise crosses) + deep MLP."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.modules.cin import CIN
from rec_models.modules.mlp import MLP
from rec_models.rank_model import RankModel


class xDeepFM(RankModel):  # noqa: N801  (the config message's name)
    """Groups: `wide` (WIDE) and `deep` (one embedding width, for the CIN).

    `final` MLP over [sum(wide), pooled CIN maps, deep MLP] -> output.
    """

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        cfg, where = model_config.xdeepfm, "model_config.xdeepfm"
        super().__init__(
            model_config,
            *args,
            wide_embedding_dim=int(cfg.wide_embedding_dim or 16),
            wide_init_fn=cfg.wide_init_fn,
            **kwargs,
        )
        eg = self.embedding_group
        eg.group_dims("wide")
        self.fields, self.dim = self.field_shape("deep", "xDeepFM's CIN")
        self.cin = CIN(self.fields, list(cfg.cin.cin_layer_size), f"{where}.cin")
        self.deep = MLP.from_config(eg.group_total_dim("deep"), cfg.deep, f"{where}.deep")
        self.final = MLP.from_config(1 + self.cin.output_dim + self.deep.output_dim, cfg.final, f"{where}.final")
        self.output = self.output_layer(self.final.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        wide = groups["wide"].sum(dim=1, keepdim=True)
        deep_in = groups["deep"]
        cin = self.cin(deep_in.view(-1, self.fields, self.dim))
        joined = torch.cat([wide, cin, self.deep(deep_in)], dim=1)
        return self.to_predictions(self.output(self.final(joined)))

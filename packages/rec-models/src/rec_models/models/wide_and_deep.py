"""WideAndDeep: a linear wide part over sparse ids plus a deep MLP."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_models.modules.mlp import MLP
from rec_models.rank_model import RankModel


class WideAndDeep(RankModel):
    """Groups: `wide` (WIDE) and `deep` (DEEP); an optional final MLP joins them."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        cfg = model_config.wide_and_deep
        super().__init__(
            model_config,
            *args,
            wide_embedding_dim=int(cfg.wide_embedding_dim or 4),
            wide_init_fn=cfg.wide_init_fn,
            **kwargs,
        )
        eg = self.embedding_group
        eg.group_dims("wide")
        self.deep = MLP.from_config(eg.group_total_dim("deep"), cfg.deep)
        self.final = None
        if cfg.HasField("final"):
            self.final = MLP.from_config(1 + self.deep.output_dim, cfg.final)
            self.output = self.output_layer(self.final.output_dim)
        else:
            self.output = self.output_layer(self.deep.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        wide = groups["wide"].sum(dim=1, keepdim=True)
        deep = self.deep(groups["deep"])
        if self.final is not None:
            out = self.output(self.final(torch.cat([wide, deep], dim=1)))
        else:
            out = wide + self.output(deep)
        return self.to_predictions(out)

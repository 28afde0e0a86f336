"""DeepFM: wide (first-order) + factorization machine (second-order) + deep MLP."""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.modules.interaction import FactorizationMachine
from rec_models.modules.mlp import MLP
from rec_models.rank_model import RankModel


class DeepFM(RankModel):
    """Groups: `wide` (WIDE), `deep` (DEEP) and optionally `fm` (DEEP, equal embedding dims)."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        cfg = model_config.deepfm
        super().__init__(
            model_config,
            *args,
            wide_embedding_dim=int(cfg.wide_embedding_dim or 4),
            wide_init_fn=cfg.wide_init_fn,
            **kwargs,
        )
        eg = self.embedding_group
        self.fm_group = "fm" if eg.has_group("fm") else "deep"
        fm_dims = eg.group_dims(self.fm_group)
        if len(set(fm_dims)) != 1:
            raise ConfigError(
                "model_config.feature_groups",
                f"DeepFM's FM needs equal feature widths in group {self.fm_group!r}, got {fm_dims}; "
                "add an `fm` group of sparse features with one embedding_dim",
            )
        self.fm_fields, self.fm_dim = len(fm_dims), fm_dims[0]
        eg.group_dims("wide")
        self.fm = FactorizationMachine()
        self.deep = MLP.from_config(eg.group_total_dim("deep"), cfg.deep)
        self.final = None
        if cfg.HasField("final"):
            self.final = MLP.from_config(1 + self.fm_dim + self.deep.output_dim, cfg.final)
            self.output = self.output_layer(self.final.output_dim)
        else:
            self.output = self.output_layer(self.deep.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        wide = groups["wide"].sum(dim=1, keepdim=True)
        fm = self.fm(groups[self.fm_group].view(-1, self.fm_fields, self.fm_dim))
        deep = self.deep(groups["deep"])
        if self.final is not None:
            out = self.output(self.final(torch.cat([wide, fm, deep], dim=1)))
        else:
            out = wide + fm.sum(dim=1, keepdim=True) + self.output(deep)
        return self.to_predictions(out)

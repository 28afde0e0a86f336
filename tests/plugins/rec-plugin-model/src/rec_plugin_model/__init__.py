"""A factorization-machine ranking model for rec, registered through the rec.models entry point."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_models.modules.interaction import FactorizationMachine
from rec_models.rank_model import RankModel

__all__ = ["FMRanker"]


class FMRanker(RankModel):
    """bias + first-order weights (WIDE group `wide`, optional) + FM over the DEEP group `fm`.

    The `fm` group's features must share one embedding_dim. No MLP: a plain FM, the baseline
    that DeepFM and xDeepFM extend.
    """

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        # first-order terms: 4 summed wide widths per feature (as DeepFM), a width quantized export can store
        super().__init__(model_config, *args, wide_embedding_dim=4, **kwargs)
        self.fm_fields, self.fm_dim = self.field_shape("fm", "FMRanker")
        self.has_wide = self.embedding_group.has_group("wide")
        self.fm = FactorizationMachine()
        self.bias = nn.Parameter(torch.zeros(self.num_class))
        # num_class > 1 needs one score per class: the FM vector is mapped, not summed
        self.fm_out = self.output_layer(self.fm_dim) if self.num_class > 1 else None

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        pairwise = self.fm(groups["fm"].view(-1, self.fm_fields, self.fm_dim))
        out = self.fm_out(pairwise) if self.fm_out is not None else pairwise.sum(dim=1, keepdim=True)
        if self.has_wide:
            out = out + groups["wide"].sum(dim=1, keepdim=True)
        return self.to_predictions(out + self.bias)

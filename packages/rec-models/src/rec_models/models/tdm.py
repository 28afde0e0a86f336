"""TDM: tree-based deep retrieval (Zhu et al., KDD 2018), the scorer of a (user, tree node) pair.

The model is a ranking model over rows that the `tdm_sampler` expands: each row pairs a user
with a tree node (the clicked leaf, its ancestors as positives, same-level nodes as
negatives). The node's features are the query of the one SEQUENCE group; a multi-window DIN
attends from the node over the user's history, and `final` scores the windows' means, the
node and every DEEP group (user profile) together. TorchEasyRec trains it with `num_class: 2`
and softmax cross-entropy; retrieval walks the tree level by level with its `probs1`.
"""

from __future__ import annotations

from typing import Any

import torch

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.embedding_group import SEQUENCE
from rec_models.modules.mlp import MLP
from rec_models.modules.sequence import MultiWindowDINEncoder
from rec_models.rank_model import RankModel


class TDM(RankModel):
    """`tdm { multiwindow_din { windows_len attn_mlp } final }` over one SEQUENCE group and any DEEP groups."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.tdm
        where = "model_config.tdm"
        eg = self.embedding_group
        sequences = [g for g in eg.group_names if eg.group_types[g] == SEQUENCE]
        if len(sequences) != 1:
            raise ConfigError(
                "model_config.feature_groups",
                f"TDM reads exactly one SEQUENCE group (the tree node as query, the user's history), got {sequences}",
            )
        self.sequence_group = sequences[0]
        self.deep_groups = [g for g in eg.group_names if g != self.sequence_group]
        self.multiwindow_din = MultiWindowDINEncoder(
            self.sequence_group,
            eg.group_total_dim(f"{self.sequence_group}.query"),
            eg.group_total_dim(f"{self.sequence_group}.sequence"),
            cfg.multiwindow_din.attn_mlp,
            list(cfg.multiwindow_din.windows_len),
            where=f"{where}.multiwindow_din",
        )
        width = self.multiwindow_din.output_dim + sum(eg.group_total_dim(g) for g in self.deep_groups)
        self.final = MLP.from_config(width, cfg.final, f"{where}.final")
        self.output = self.output_layer(self.final.output_dim)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        groups = self.embedding_group(batch)
        parts = [self.multiwindow_din(groups)] + [groups[g] for g in self.deep_groups]
        return self.to_predictions(self.output(self.final(torch.cat(parts, dim=1))))

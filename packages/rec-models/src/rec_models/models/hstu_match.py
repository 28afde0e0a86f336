"""HSTUMatch: sequential retrieval with an HSTU user encoder (Zhai et al., ICML 2024).

The user tower runs HSTU over the user's history (a JAGGED_SEQUENCE group, oldest element
first unless `sequence_timestamp_is_ascending` is false) and takes the last position's output:
the user's state after the latest interaction. The item tower is an MLP over the item group.
Both end at `output_dim` (the HSTU width when 0) and are scored as in any match model.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.embedding_group import JAGGED_SEQUENCE
from rec_models.match_model import COSINE, MatchModel, MatchTower, group_embedding, tower_mlp
from rec_models.modules.hstu import HSTUEncoder
from rec_models.modules.hstu_inputs import reverse_rows


class HSTUMatch(MatchModel):
    """`user_tower` is an HSTUUserTower {input (JAGGED_SEQUENCE group), hstu, max_seq_len}; `item_tower` a Tower."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.hstu_match
        ut, where = cfg.user_tower, f"{self.where}.user_tower"
        self.user_input = group_embedding(self, self.user_groups, f"{where}.input")
        self.item_input = group_embedding(self, self.item_groups, f"{self.where}.item_tower.input")
        self.history = ut.input
        check_history_group(self.user_input.embedding_group, self.history, f"{where}.input")
        self.encoder = HSTUEncoder(
            ut.hstu, self.user_input.group_total_dim(f"{self.history}.sequence"), int(ut.max_seq_len), f"{where}.hstu"
        )
        if self.output_dim < 0:
            raise ConfigError(f"{self.where}.output_dim", f"must be >= 0 (0: the HSTU width), got {self.output_dim}")
        width = self.output_dim or self.encoder.output_dim
        self.user_projection = nn.Linear(self.encoder.output_dim, width) if self.output_dim else nn.Identity()
        self.ascending = bool(cfg.sequence_timestamp_is_ascending)
        self.item_tower = MatchTower(
            self.item_input.group_total_dim(cfg.item_tower.input), tower_mlp(cfg.item_tower), width, self.similarity == COSINE
        )

    def user_tower_emb(self, batch: Batch) -> torch.Tensor:
        groups = self.user_input(batch)
        values, lengths = groups[f"{self.history}.sequence"], groups[f"{self.history}.sequence_length"]
        if not self.ascending:
            values = reverse_rows(values, lengths)
        steps = groups[f"{self.history}.sequence_steps"].size(1)
        user = self.user_projection(self.encoder.last(self.encoder(values, lengths, steps), lengths, steps))
        return F.normalize(user, dim=-1) if self.similarity == COSINE else user

    def item_tower_emb(self, batch: Batch) -> torch.Tensor:
        return self.item_tower(self.item_input(batch)[self.item_groups[0]])


def check_history_group(embedding_group: Any, name: str, where: str) -> None:
    """ConfigError unless `name` is a JAGGED_SEQUENCE group of sequence features only."""
    if embedding_group.group_types.get(name) != JAGGED_SEQUENCE:
        raise ConfigError(where, f"{name!r} must be a JAGGED_SEQUENCE feature group (the history HSTU reads)")
    if embedding_group.has_group(f"{name}.query") and embedding_group.group_dims(f"{name}.query"):
        raise ConfigError(
            f"model_config.feature_groups[{name!r}].feature_names",
            f"the history group {name!r} holds sequence features only; its non-sequence features would be dropped",
        )

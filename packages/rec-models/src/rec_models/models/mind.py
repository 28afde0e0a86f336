"""MIND: multi-interest network with dynamic routing (Li et al., CIKM 2019).

The user tower turns the behaviour history (a SEQUENCE group) into up to `max_k` interest
capsules (B2I routing), joins each with the user's profile (`user_mlp`, by concatenation or
sum) and maps it through `concat_mlp` to `output_dim`: user_tower_emb is [B, K, D]. In
training and evaluation, label-aware attention picks the interests that match the positive
item: weights softmax((interest · item)^simi_pow) over the user's interests, and the weighted
interest is scored against the positive and the negatives as in any match model.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_models.match_model import COSINE, MatchModel, MatchTower, group_embedding, tower_mlp
from rec_models.modules.capsule import B2ICapsule
from rec_models.modules.mlp import MLP

CONCAT, SUM = 0, 1  # MINDUserTower.UserSeqCombineMethod


class MIND(MatchModel):
    """`user_tower` is a MINDUserTower {input, history_input, user_mlp, hist_seq_mlp, user_seq_combine, capsule_config, concat_mlp}."""

    def __init__(self, model_config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model_config, *args, **kwargs)
        cfg = model_config.mind
        ut, where = cfg.user_tower, f"{self.where}.user_tower"
        self.simi_pow = float(cfg.simi_pow)
        if self.simi_pow != int(self.simi_pow):
            # a fractional power of a negative similarity is not a number
            raise ConfigError(f"{self.where}.simi_pow", f"must be a whole number, got {self.simi_pow}")
        self.user_input = group_embedding(self, self.user_groups, where)
        self.item_input = group_embedding(self, self.item_groups, f"{self.where}.item_tower.input")
        if not self.user_input.embedding_group.is_sequence_group(ut.history_input):
            raise ConfigError(f"{where}.history_input", f"{ut.history_input!r} must be a SEQUENCE feature group")
        self.history = ut.history_input
        width = self.user_input.group_total_dim(f"{ut.history_input}.sequence")
        self.hist_mlp = None
        if ut.HasField("hist_seq_mlp"):
            self.hist_mlp = MLP.from_config(width, ut.hist_seq_mlp, f"{where}.hist_seq_mlp")
            width = self.hist_mlp.output_dim
        self.capsule = B2ICapsule(width, ut.capsule_config, f"{where}.capsule_config")
        self.user_mlp = MLP.from_config(self.user_input.group_total_dim(ut.input), ut.user_mlp, f"{where}.user_mlp")
        self.combine = int(ut.user_seq_combine)
        if self.combine == SUM and self.user_mlp.output_dim != self.capsule.high_dim:
            raise ConfigError(
                f"{where}.user_mlp.hidden_units",
                f"user_seq_combine SUM adds the profile to each interest: user_mlp must end at capsule high_dim "
                f"{self.capsule.high_dim}, got {self.user_mlp.output_dim}",
            )
        joined = self.capsule.high_dim + (self.user_mlp.output_dim if self.combine == CONCAT else 0)
        self.user_tower = MatchTower(joined, ut.concat_mlp, self.output_dim, self.similarity == COSINE)
        cosine = self.similarity == COSINE
        self.item_tower = MatchTower(
            self.item_input.group_total_dim(cfg.item_tower.input), tower_mlp(cfg.item_tower), self.output_dim, cosine
        )

    def tower_groups(self, cfg: Any) -> tuple[list[str], list[str]]:
        return [cfg.user_tower.input, cfg.user_tower.history_input], [cfg.item_tower.input]

    def interests(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(interest embeddings [B, K, output_dim], zero where masked; mask [B, K])."""
        groups = self.user_input(batch)
        seq = groups[f"{self.history}.sequence"]
        if self.hist_mlp is not None:
            seq = self.hist_mlp(seq.reshape(-1, seq.size(-1))).reshape(seq.size(0), seq.size(1), -1)
        caps, mask = self.capsule(seq, groups[f"{self.history}.sequence_length"])
        profile = self.user_mlp(groups[self.user_groups[0]]).unsqueeze(1)
        if self.combine == CONCAT:
            joined = torch.cat([caps, profile.expand(-1, caps.size(1), -1)], dim=2)
        else:
            joined = caps + profile
        emb = self.user_tower(joined.reshape(-1, joined.size(-1))).reshape(caps.size(0), caps.size(1), -1)
        return emb * mask.unsqueeze(2).to(emb.dtype), mask

    def user_tower_emb(self, batch: Batch) -> torch.Tensor:
        return self.interests(batch)[0]

    def item_tower_emb(self, batch: Batch) -> torch.Tensor:
        return self.item_tower(self.item_input(batch)[self.item_groups[0]])

    def label_aware(self, interests: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """[B, D]: the interests weighted by softmax((interest · target)^simi_pow) over each user's interests."""
        simi = torch.pow(torch.bmm(interests, target.unsqueeze(2)).squeeze(2), self.simi_pow)
        weights = torch.softmax(simi.masked_fill(~mask, float("-inf")), dim=1)
        return torch.bmm(weights.unsqueeze(1), interests).squeeze(1)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        interests, mask = self.interests(batch)
        item = self.item_tower_emb(batch)
        user = self.label_aware(interests, mask, item[: interests.size(0)])
        return {"similarity": self.sim(user, item, batch), "user_tower_emb": interests, "item_tower_emb": item}

"""B2I dynamic routing (MIND, Li et al., CIKM 2019): a behaviour sequence -> a few interest capsules."""

# No `from __future__ import annotations`: FX traces rooted here must stay TorchScript-able.

from typing import Any, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError


def squash(z: torch.Tensor, power: float = 1.0, eps: float = 1e-9) -> torch.Tensor:
    """Shrink a vector's length to (|z|^2 / (1 + |z|^2))^power, keeping its direction (zero stays zero)."""
    sq = (z * z).sum(dim=-1, keepdim=True)
    return z * torch.pow(sq / (1.0 + sq), power) / torch.sqrt(sq + eps)


class B2ICapsule(nn.Module):
    """[B, T, D] behaviours with lengths [B] -> interests [B, max_k, high_dim] and their mask [B, max_k].

    Behaviours are mapped by one shared bilinear matrix; routing logits start from a fixed draw
    (`routing_init_method` normal with `routing_logits_stddev`, or zeros), made once so that a
    model gives the same interests every time; each of `num_iters` rounds assigns behaviours to
    capsules by softmax(routing_logits_scale · logits) over capsules, squashes the weighted sums
    and raises the logits by the agreement (capsule · behaviour). Agreement rounds see the
    behaviours with gradients stopped; the last round carries them. A user with n behaviours
    gets max(1, min(max_k, floor(log2 n))) interests (all max_k with `const_caps_num`); padded
    behaviours and the other capsules take no part.
    """

    def __init__(self, in_features: int, config: Any, where: str = "capsule_config") -> None:
        super().__init__()
        self.max_k, self.max_seq_len = int(config.max_k), int(config.max_seq_len)
        self.high_dim, self.num_iters = int(config.high_dim), int(config.num_iters)
        for name in ("max_k", "max_seq_len", "high_dim", "num_iters"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{where}.{name}", f"must be at least 1, got {getattr(self, name)}")
        self.scale, self.power = float(config.routing_logits_scale), float(config.squash_pow)
        self.const_caps_num = bool(config.const_caps_num)
        self.bilinear = nn.Linear(in_features, self.high_dim, bias=False)
        method = config.routing_init_method or "normal"
        if method not in ("normal", "zeros"):
            raise ConfigError(f"{where}.routing_init_method", f"expected normal or zeros, got {method!r}")
        init = torch.zeros(self.max_k, self.max_seq_len)
        if method == "normal":
            init.normal_(0.0, float(config.routing_logits_stddev))
        self.register_buffer("init_logits", init)

    def forward(self, seq: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Interest capsules (zero where masked) and which of them a user has."""
        # a fixed number of steps keeps the shapes static for tracing; padding never routes
        seq = seq[:, : self.max_seq_len]
        seq = F.pad(seq, (0, 0, 0, self.max_seq_len - seq.size(1)))
        lengths = lengths.clamp(max=self.max_seq_len)
        behaviours = self.bilinear(seq)  # [B, T, H]
        fixed = behaviours.detach()
        valid_step = torch.arange(self.max_seq_len, device=seq.device).unsqueeze(0) < lengths.unsqueeze(1)  # [B, T]
        if self.const_caps_num:
            count = torch.full_like(lengths, self.max_k)
        else:
            count = torch.floor(torch.log2(lengths.clamp(min=1).float())).long().clamp(1, self.max_k)
        valid_caps = torch.arange(self.max_k, device=seq.device).unsqueeze(0) < count.unsqueeze(1)  # [B, K]
        logits = self.init_logits.unsqueeze(0)  # [1, K, T], broadcast over the batch
        caps = behaviours.new_zeros(())
        for i in range(self.num_iters):
            scores = torch.where(valid_caps.unsqueeze(2), logits * self.scale, float("-inf"))
            weights = torch.softmax(scores, dim=1) * valid_step.unsqueeze(1).to(scores.dtype)  # [B, K, T]
            last = i == self.num_iters - 1
            caps = squash(torch.bmm(weights, behaviours if last else fixed), self.power)
            if not last:
                logits = logits + torch.bmm(caps, fixed.transpose(1, 2))
        return caps * valid_caps.unsqueeze(2).to(caps.dtype), valid_caps

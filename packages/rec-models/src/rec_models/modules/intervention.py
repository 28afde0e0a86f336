"""LowRankIntervention: move part of a representation toward another one, inside a learned subspace."""

# No `from __future__ import annotations`: FX traces rooted here must stay TorchScript-able.

import torch
from torch import nn

from rec_core.errors import ConfigError


class LowRankIntervention(nn.Module):
    """base + Q Qᵀ (source − base): the base's component in a learned rank-r subspace becomes the source's.

    Q is an orthonormal basis (QR of a free parameter: an orthogonal low-rank rotation), so
    outside the subspace the base is untouched. Dropout acts on the rotated difference.
    """

    def __init__(self, dim: int, low_rank_dim: int, dropout_ratio: float = 0.0, where: str = "low_rank_dim") -> None:
        super().__init__()
        if not 0 < low_rank_dim <= dim:
            raise ConfigError(where, f"must be in [1, {dim}] (the towers' width), got {low_rank_dim}")
        self.basis = nn.Parameter(torch.empty(dim, low_rank_dim))
        nn.init.orthogonal_(self.basis)
        self.dropout = nn.Dropout(dropout_ratio)

    def rotation(self) -> torch.Tensor:
        """The orthonormal basis Q [dim, low_rank_dim]."""
        q, _ = torch.linalg.qr(self.basis)
        return q

    def forward(self, base: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """[B, dim], [B, dim] -> [B, dim]."""
        q = self.rotation()
        return base + self.dropout((source - base) @ q) @ q.T

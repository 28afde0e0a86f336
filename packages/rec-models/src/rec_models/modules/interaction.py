"""Feature-interaction modules: factorization machine and DLRM's pairwise dot interaction."""

# No `from __future__ import annotations`: an FX trace rooted at one of these modules copies
# its forward annotations, and TorchScript cannot resolve them when they are strings.

import torch
from torch import nn


class FactorizationMachine(nn.Module):
    """Second-order FM: 0.5 * ((sum_i v_i)^2 - sum_i v_i^2), per embedding dimension."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, N, D] field embeddings -> [B, D] pairwise interaction vector."""
        square_of_sum = x.sum(dim=1).pow(2)
        sum_of_square = x.pow(2).sum(dim=1)
        return 0.5 * (square_of_sum - sum_of_square)


class DotInteraction(nn.Module):
    """DLRM interaction: dot products of every pair among the dense vector and sparse embeddings."""

    def __init__(self, num_vectors: int) -> None:
        super().__init__()
        rows, cols = torch.triu_indices(num_vectors, num_vectors, offset=1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.output_dim = int(rows.numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, N, D] -> [B, N*(N-1)/2]."""
        gram = torch.bmm(x, x.transpose(1, 2))
        return gram[:, self.rows, self.cols]

"""Compressed Interaction Network (CIN) of xDeepFM (Lian et al., 2018).

Layer k builds every Hadamard product of a hidden feature map of layer k-1 with an input
field, per embedding dimension, and compresses the H_{k-1} * m products into H_k maps with
a learned weighted sum: X^k_h = sum_{i,j} W^{k,h}_{ij} (X^{k-1}_i * X^0_j). Each layer's maps
are sum-pooled over the embedding dimension and the pools of all layers concatenated.
"""

# No `from __future__ import annotations`: an FX trace rooted at one of these modules copies
# its forward annotations, and TorchScript cannot resolve them when they are strings.

from collections.abc import Sequence

import torch
from torch import nn

from rec_core.errors import ConfigError


class CIN(nn.Module):
    """[B, num_fields, D] field embeddings -> [B, sum(layer_sizes)]."""

    def __init__(self, num_fields: int, layer_sizes: Sequence[int], where: str = "cin") -> None:
        super().__init__()
        if not layer_sizes:
            raise ConfigError(f"{where}.cin_layer_size", "CIN needs at least one layer size")
        if any(h < 1 for h in layer_sizes):
            raise ConfigError(f"{where}.cin_layer_size", f"layer sizes must be >= 1, got {list(layer_sizes)}")
        widths = [num_fields, *layer_sizes]
        # the compression is a 1x1 convolution over the (map, field) products: a Linear on them
        self.compress = nn.ModuleList(
            nn.Linear(widths[k] * num_fields, widths[k + 1], bias=False) for k in range(len(layer_sizes))
        )
        self.output_dim = sum(layer_sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled feature maps of every layer, concatenated."""
        x0 = x.transpose(1, 2)  # [B, D, m]
        hidden = x0
        pooled = []
        for layer in self.compress:
            products = (hidden.unsqueeze(3) * x0.unsqueeze(2)).flatten(2)  # [B, D, H * m]
            hidden = layer(products)  # [B, D, H_k]
            pooled.append(hidden.sum(dim=1))
        return torch.cat(pooled, dim=1)

"""MaskNet's instance-guided mask blocks (Wang et al., 2021).

A MaskBlock scales its (layer-normalised) input element-wise by a mask computed from the
feature embeddings by a two-layer net, then projects it: Linear (no bias) -> LayerNorm -> ReLU.
MaskNetModule runs blocks in parallel (all read the embeddings, outputs concatenated) or in
series (each reads the previous block's output, every mask comes from the embeddings).
"""

# No `from __future__ import annotations`: an FX trace rooted at one of these modules copies
# its forward annotations, and TorchScript cannot resolve them when they are strings.

from typing import Any

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_models.modules.mlp import MLP


class MaskBlock(nn.Module):
    """(input [B, input_dim], mask source [B, mask_input_dim]) -> [B, hidden_dim]."""

    def __init__(
        self,
        input_dim: int,
        mask_input_dim: int,
        hidden_dim: int,
        reduction_ratio: float = 1.0,
        aggregation_dim: int = 0,
        where: str = "mask_block",
    ) -> None:
        super().__init__()
        if hidden_dim < 1:
            raise ConfigError(f"{where}.hidden_dim", f"must be >= 1, got {hidden_dim}")
        aggregation = aggregation_dim or int(mask_input_dim * reduction_ratio)
        if aggregation < 1:
            raise ConfigError(
                f"{where}.reduction_ratio",
                f"aggregation width {mask_input_dim} * {reduction_ratio} rounds below 1; raise it or set aggregation_dim",
            )
        self.mask = nn.Sequential(nn.Linear(mask_input_dim, aggregation), nn.ReLU(), nn.Linear(aggregation, input_dim))
        self.input_norm = nn.LayerNorm(input_dim)
        self.hidden = nn.Sequential(nn.Linear(input_dim, hidden_dim, bias=False), nn.LayerNorm(hidden_dim), nn.ReLU())
        self.output_dim = hidden_dim

    def forward(self, x: torch.Tensor, mask_input: torch.Tensor) -> torch.Tensor:
        """Masked, projected input."""
        return self.hidden(self.input_norm(x) * self.mask(mask_input))


class MaskNetModule(nn.Module):
    """[B, input_dim] embeddings -> [B, output_dim] through `n_mask_blocks` blocks and `top_mlp`."""

    def __init__(self, input_dim: int, config: Any, where: str = "mask_net_module") -> None:
        super().__init__()
        n = int(config.n_mask_blocks)
        if n < 1:
            raise ConfigError(f"{where}.n_mask_blocks", f"must be >= 1, got {n}")
        block = config.mask_block
        self.use_parallel = bool(config.use_parallel)
        blocks = []
        width = input_dim
        for _ in range(n):
            blocks.append(
                MaskBlock(
                    input_dim if self.use_parallel else width,
                    input_dim,
                    int(block.hidden_dim),
                    float(block.reduction_ratio),
                    int(block.aggregation_dim),
                    f"{where}.mask_block",
                )
            )
            width = int(block.hidden_dim)
        self.blocks = nn.ModuleList(blocks)
        width = width * n if self.use_parallel else width
        self.top_mlp = MLP.from_config(width, config.top_mlp, f"{where}.top_mlp") if config.HasField("top_mlp") else None
        self.output_dim = self.top_mlp.output_dim if self.top_mlp is not None else width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mask blocks, then the top MLP."""
        if self.use_parallel:
            out = torch.cat([block(x, x) for block in self.blocks], dim=1)
        else:
            out = x
            for block in self.blocks:
                out = block(out, x)
        if self.top_mlp is not None:
            out = self.top_mlp(out)
        return out

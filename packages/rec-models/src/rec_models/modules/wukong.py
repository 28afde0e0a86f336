"""WuKong's interaction stack (Zhang et al., 2024): layers of factorization-machine and
linear-compression blocks over a [B, n, D] set of feature embeddings.

LinearCompressBlock: n -> k embeddings as learned linear combinations of the inputs.
FactorizationMachineBlock: dot products of every input embedding with a compressed set of
`compressed_feature_num` embeddings ([B, n, c], the "optimized FM"), flattened, layer-normed,
fed to an MLP and projected to `fmb_feature_num` embeddings of width D.
WuKongLayer: FMB and LCB outputs concatenated along the embedding axis, plus the (projected,
if the count changes) input as a residual, then LayerNorm.
"""

# No `from __future__ import annotations`: an FX trace rooted at one of these modules copies
# its forward annotations, and TorchScript cannot resolve them when they are strings.

from typing import Any

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_models.modules.mlp import MLP


class LinearCompressBlock(nn.Module):
    """[B, num_in, D] -> [B, num_out, D]: each output embedding a learned mix of the inputs."""

    def __init__(self, num_in: int, num_out: int) -> None:
        super().__init__()
        self.mix = nn.Linear(num_in, num_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mix along the embedding-count axis."""
        return self.mix(x.transpose(1, 2)).transpose(1, 2)


class FactorizationMachineBlock(nn.Module):
    """[B, num_in, D] -> [B, num_out, D] from pairwise dot products with compressed embeddings."""

    def __init__(self, num_in: int, num_out: int, dim: int, compressed: int, mlp: Any, where: str) -> None:
        super().__init__()
        self.compress = LinearCompressBlock(num_in, compressed)
        self.norm = nn.LayerNorm(num_in * compressed)
        self.mlp = MLP.from_config(num_in * compressed, mlp, f"{where}.feature_num_mlp")
        self.project = nn.Linear(self.mlp.output_dim, num_out * dim)
        self.num_out, self.dim = num_out, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """FM interactions -> MLP -> num_out embeddings."""
        dots = torch.bmm(x, self.compress(x).transpose(1, 2))  # [B, num_in, compressed]
        out = self.project(self.mlp(self.norm(dots.flatten(1))))
        return out.view(-1, self.num_out, self.dim)


class WuKongLayer(nn.Module):
    """One interaction layer: [B, num_in, D] -> [B, lcb_feature_num + fmb_feature_num, D]."""

    def __init__(self, num_in: int, dim: int, config: Any, where: str = "wukong_layers") -> None:
        super().__init__()
        lcb, fmb = int(config.lcb_feature_num), int(config.fmb_feature_num)
        compressed = int(config.compressed_feature_num)
        for field, value in (("lcb_feature_num", lcb), ("fmb_feature_num", fmb), ("compressed_feature_num", compressed)):
            if value < 1:
                raise ConfigError(f"{where}.{field}", f"must be >= 1, got {value}")
        self.fmb = FactorizationMachineBlock(num_in, fmb, dim, compressed, config.feature_num_mlp, where)
        self.lcb = LinearCompressBlock(num_in, lcb)
        self.num_out = lcb + fmb
        self.residual = LinearCompressBlock(num_in, self.num_out) if num_in != self.num_out else None
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """FMB and LCB outputs plus the residual, layer-normed per embedding."""
        out = torch.cat([self.fmb(x), self.lcb(x)], dim=1)
        residual = self.residual(x) if self.residual is not None else x
        return self.norm(out + residual)

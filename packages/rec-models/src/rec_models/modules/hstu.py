"""HSTU (hierarchical sequential transduction units) over jagged sequences, in plain PyTorch.

Each STU layer, on x [N, D] (the valid positions of every row, row after row):

    u, v, q, k = split(SiLU(Linear(LayerNorm(x))))            per head: hidden_dim, hidden_dim, attention_dim, attention_dim
    A[i, j]    = SiLU(alpha * q_i . k_j) / scaling_seqlen      for j <= i (causal), i - j < max_attn_len when set, same row
    y          = Linear(LayerNorm(A v) * u)                    (dropout on y), output x + y

Attention weights are not normalised (HSTU's pointwise SiLU attention), so they are divided by a
fixed length instead of a per-batch one: a row's output never depends on the other rows of its
batch. Rows are padded only inside the attention; what goes in and out is jagged. Runs on any
device (no Triton / CUDA kernels); the reference's fused kernels compute the same function.
"""

# No `from __future__ import annotations`: an FX trace rooted here copies its forward
# annotations, and TorchScript cannot resolve them when they are strings.

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_models.modules import jagged


class STULayer(nn.Module):
    """One sequential transduction unit: pointwise-attention + gated output, residual."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        hidden_dim: int,
        attention_dim: int,
        max_seq_len: int,
        dropout: float = 0.0,
        max_attn_len: int = 0,
        attn_alpha: float = 0.0,
    ) -> None:
        super().__init__()
        self._heads = num_heads
        self._hidden = hidden_dim
        self._attention = attention_dim
        self._scale = float(max_seq_len)
        self._max_attn_len = max_attn_len
        self._alpha = attn_alpha if attn_alpha > 0 else 1.0 / math.sqrt(attention_dim)
        self.input_norm = nn.LayerNorm(embedding_dim)
        self.uvqk = nn.Linear(embedding_dim, num_heads * (2 * hidden_dim + 2 * attention_dim))
        self.output_norm = nn.LayerNorm(num_heads * hidden_dim)
        self.output = nn.Linear(num_heads * hidden_dim, embedding_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, steps: int) -> torch.Tensor:
        """x [N, D] jagged by `lengths` [B] (rows at most `steps` long) -> [N, D]."""
        h, hd, ad = self._heads, self._hidden, self._attention
        u, v, q, k = torch.split(F.silu(self.uvqk(self.input_norm(x))), [h * hd, h * hd, h * ad, h * ad], dim=-1)
        # [B, T, heads, dim]
        qp = jagged.to_padded(q, lengths, steps).unflatten(-1, (h, ad))
        kp = jagged.to_padded(k, lengths, steps).unflatten(-1, (h, ad))
        vp = jagged.to_padded(v, lengths, steps).unflatten(-1, (h, hd))
        scores = F.silu(self._alpha * torch.einsum("bihd,bjhd->bhij", qp, kp)) / self._scale
        scores = scores * jagged.causal_mask(lengths, steps, self._max_attn_len).unsqueeze(1).to(scores.dtype)
        mixed = torch.einsum("bhij,bjhd->bihd", scores, vp).flatten(2)  # [B, T, heads * hidden]
        attended = jagged.to_jagged(mixed, lengths, x.size(0))
        return x + self.dropout(self.output(self.output_norm(attended) * u))


class HSTUEncoder(nn.Module):
    """Input projection, position embeddings, `attn_num_layers` STU layers and an output norm.

    Takes jagged item embeddings [N, input_dim] with per-row lengths and returns [N,
    embedding_dim] contextualised ones; `last(...)` picks each row's last position (zeros for an
    empty row), the user representation for ranking or retrieval. `steps` bounds the rows'
    lengths (rows are padded to it inside the attention): the longest row, or any larger bound.
    """

    def __init__(self, config: Any, input_dim: int, max_seq_len: int, where: str = "hstu") -> None:
        super().__init__()
        stu = config.stu
        for field in ("embedding_dim", "num_heads", "hidden_dim", "attention_dim"):
            if getattr(stu, field) <= 0:
                raise ConfigError(f"{where}.stu.{field}", "must be > 0")
        if max_seq_len <= 0:
            raise ConfigError(f"{where}.max_seq_len", "must be > 0")
        dim = stu.embedding_dim
        self.output_dim = dim
        self.project = nn.Linear(input_dim, dim) if input_dim != dim else nn.Identity()
        buckets = config.positional_encoder.num_position_buckets
        if buckets <= 0:
            raise ConfigError(f"{where}.positional_encoder.num_position_buckets", "must be > 0")
        self.positions = nn.Embedding(buckets, dim)
        self._last_bucket = buckets - 1
        self._scale = math.sqrt(dim)
        self.input_dropout = nn.Dropout(config.input_dropout_ratio)
        scaling = stu.scaling_seqlen if stu.scaling_seqlen > 0 else max_seq_len
        self.layers = nn.ModuleList(
            STULayer(
                dim, stu.num_heads, stu.hidden_dim, stu.attention_dim, scaling, stu.output_dropout_ratio, stu.max_attn_len, stu.attn_alpha
            )
            for _ in range(config.attn_num_layers)
        )
        post = config.output_postprocessor.WhichOneof("output_postprocessor")
        if post not in ("l2norm_postprocessor", "layernorm_postprocessor"):
            raise ConfigError(f"{where}.output_postprocessor", f"supported: l2norm_postprocessor, layernorm_postprocessor; got {post}")
        self._l2norm = post == "l2norm_postprocessor"
        self.output_norm = nn.Identity() if self._l2norm else nn.LayerNorm(dim)

    def forward(self, values: torch.Tensor, lengths: torch.Tensor, steps: int) -> torch.Tensor:
        """[N, input_dim] jagged by `lengths` (rows at most `steps` long) -> [N, embedding_dim]."""
        x = self.project(values) * self._scale
        # each position's index within its row, clamped to the last bucket
        positions = jagged.row_positions(lengths, values.size(0)).clamp(max=self._last_bucket)
        x = self.input_dropout(x + self.positions(positions))
        for layer in self.layers:
            x = layer(x, lengths, steps)
        if self._l2norm:
            return F.normalize(x, dim=-1, eps=1e-6)
        return self.output_norm(x)

    def last(self, encoded: torch.Tensor, lengths: torch.Tensor, steps: int) -> torch.Tensor:
        """[B, D]: each row's last position of `encoded` [N, D] (zeros for empty rows)."""
        padded = jagged.to_padded(encoded, lengths, steps)
        index = (lengths.long() - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, padded.size(2))
        return padded.gather(1, index).squeeze(1) * (lengths > 0).unsqueeze(1).to(padded.dtype)

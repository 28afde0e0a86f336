"""Sequence encoders: one vector per row from a sequence group's query and padded sequence.

Every encoder reads `<input>.query` [B, Dq], `<input>.sequence` [B, T, Ds] (zero padded) and
`<input>.sequence_length` [B] from the embedding group's output dict and returns [B, output_dim].
Padded positions never contribute; a row with an empty sequence encodes to zeros (the
multi-window DIN still appends its query).
"""

# No `from __future__ import annotations`: an FX trace rooted at an encoder copies its
# forward annotations, and TorchScript cannot resolve them when they are strings.

import math
from collections.abc import Callable
from typing import Any, Dict, List, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_models.modules import jagged
from rec_models.modules.mlp import MLP

# stands in for -inf on padded positions (a true -inf would make a row without valid
# positions NaN)
_MASKED_SCORE = -(2.0**31) + 1


class SequenceEncoder(nn.Module):
    """Base: knows its input group's keys and its output width."""

    def __init__(self, input_name: str, output_dim: int, max_seq_length: int = 0) -> None:
        super().__init__()
        self.input_name = input_name
        self.output_dim = output_dim
        self._max_seq_length = max_seq_length
        self._query_key = f"{input_name}.query"
        self._sequence_key = f"{input_name}.sequence"
        self._length_key = f"{input_name}.sequence_length"

    def _sequence(self, groups: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """(sequence, lengths), cut to the first max_seq_length positions when that is set."""
        sequence = groups[self._sequence_key]
        lengths = groups[self._length_key]
        if self._max_seq_length > 0:
            sequence = sequence[:, : self._max_seq_length]
            lengths = lengths.clamp(max=self._max_seq_length)
        return sequence, lengths


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the valid positions of the last dim; masked positions (and rows with none valid) weigh 0."""
    weights = torch.softmax(torch.where(mask, scores, torch.full_like(scores, _MASKED_SCORE)), dim=-1)
    return weights * mask.to(weights.dtype)


def _pad_query(query: torch.Tensor, query_dim: int, sequence_dim: int) -> torch.Tensor:
    # a narrower query is zero-extended to the sequence width (TorchEasyRec's rule)
    if query_dim < sequence_dim:
        return F.pad(query, [0, sequence_dim - query_dim])
    return query


class PoolingEncoder(SequenceEncoder):
    """Sum or mean of the valid sequence positions."""

    def __init__(self, input_name: str, sequence_dim: int, pooling_type: str = "mean", max_seq_length: int = 0) -> None:
        if pooling_type not in ("mean", "sum"):
            raise ConfigError("pooling_encoder.pooling_type", f"expected mean or sum, got {pooling_type!r}")
        super().__init__(input_name, sequence_dim, max_seq_length)
        self._mean = pooling_type == "mean"

    def forward(self, groups: Dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, Ds]."""
        sequence, lengths = self._sequence(groups)
        mask = jagged.sequence_mask(lengths, sequence.size(1))
        total = (sequence * mask.unsqueeze(-1).to(sequence.dtype)).sum(dim=1)
        if self._mean:
            total = total / lengths.clamp(min=1).unsqueeze(1).to(total.dtype)
        return total


class DINEncoder(SequenceEncoder):
    """Target attention (DIN): weights softmax(MLP([q, s, q - s, q * s])) over positions, output sum(w * s)."""

    def __init__(
        self, input_name: str, query_dim: int, sequence_dim: int, attn_mlp: Any, max_seq_length: int = 0, where: str = "din_encoder"
    ) -> None:
        super().__init__(input_name, sequence_dim, max_seq_length)
        _check_query(query_dim, sequence_dim, where)
        self._query_dim = query_dim
        self._sequence_dim = sequence_dim
        self.mlp = MLP.from_config(4 * sequence_dim, attn_mlp, f"{where}.attn_mlp")
        self.linear = nn.Linear(self.mlp.output_dim, 1)

    def forward(self, groups: Dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, Ds]."""
        sequence, lengths = self._sequence(groups)
        query = _pad_query(groups[self._query_key], self._query_dim, self._sequence_dim)
        queries = query.unsqueeze(1).expand_as(sequence)
        features = torch.cat([queries, sequence, queries - sequence, queries * sequence], dim=-1)
        scores = self.linear(self.mlp(features)).squeeze(-1)
        weights = _masked_softmax(scores, jagged.sequence_mask(lengths, sequence.size(1)))
        return torch.bmm(weights.unsqueeze(1), sequence).squeeze(1)


class SimpleAttention(SequenceEncoder):
    """Dot-product attention: weights softmax(s . q) over positions, output sum(w * s); needs Dq == Ds."""

    def __init__(self, input_name: str, query_dim: int, sequence_dim: int, max_seq_length: int = 0, where: str = "simple_attention") -> None:
        super().__init__(input_name, sequence_dim, max_seq_length)
        if query_dim != sequence_dim:
            raise ConfigError(
                where, f"query width {query_dim} must equal sequence width {sequence_dim} in group {input_name!r}"
            )

    def forward(self, groups: Dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, Ds]."""
        sequence, lengths = self._sequence(groups)
        scores = torch.bmm(sequence, groups[self._query_key].unsqueeze(2)).squeeze(2)
        weights = _masked_softmax(scores, jagged.sequence_mask(lengths, sequence.size(1)))
        return torch.bmm(weights.unsqueeze(1), sequence).squeeze(1)


class MultiWindowDINEncoder(SequenceEncoder):
    """DIN over consecutive windows of the sequence (e.g. the last day, week, month of clicks).

    Position weights are PReLU(Linear(MLP([s, q * s, q]))) (not normalised); each window
    gives the mean of its weighted valid positions. Output [window_1, ..., window_W, q],
    width (W + 1) * Ds. Positions past the last window are ignored.
    """

    def __init__(
        self, input_name: str, query_dim: int, sequence_dim: int, attn_mlp: Any, windows_len: List[int], where: str = "multi_window_din_encoder"
    ) -> None:
        if not windows_len or any(w <= 0 for w in windows_len):
            raise ConfigError(f"{where}.windows_len", f"needs positive window lengths, got {list(windows_len)}")
        super().__init__(input_name, sequence_dim * (len(windows_len) + 1))
        _check_query(query_dim, sequence_dim, where)
        self._query_dim = query_dim
        self._sequence_dim = sequence_dim
        ends = torch.tensor(windows_len, dtype=torch.long).cumsum(0)
        self.register_buffer("window_len", torch.tensor(windows_len, dtype=torch.long), persistent=False)
        self.register_buffer("window_start", ends - self.window_len, persistent=False)
        self.register_buffer("window_end", ends, persistent=False)
        self.mlp = MLP.from_config(3 * sequence_dim, attn_mlp, f"{where}.attn_mlp")
        self.linear = nn.Linear(self.mlp.output_dim, 1)
        self.activation = nn.PReLU()

    def forward(self, groups: Dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, (W + 1) * Ds]."""
        sequence, lengths = self._sequence(groups)
        steps = sequence.size(1)
        query = _pad_query(groups[self._query_key], self._query_dim, self._sequence_dim)
        queries = query.unsqueeze(1).expand_as(sequence)
        weights = self.activation(self.linear(self.mlp(torch.cat([sequence, queries * sequence, queries], dim=-1))))
        valid = jagged.sequence_mask(lengths, steps).unsqueeze(-1).to(sequence.dtype)
        weighted = weights * valid * sequence
        # [W, T]: position t is in window w when start_w <= t < end_w
        in_window = jagged.sequence_mask(self.window_end, steps) & ~jagged.sequence_mask(self.window_start, steps)
        sums = torch.einsum("wt,btd->bwd", in_window.to(sequence.dtype), weighted)
        counts = torch.minimum(lengths.unsqueeze(1).long() - self.window_start.unsqueeze(0), self.window_len.unsqueeze(0))
        means = sums / counts.clamp(min=1).unsqueeze(2).to(sums.dtype)
        return torch.cat([means, query.unsqueeze(1)], dim=1).flatten(1)


class SelfAttentionEncoder(SequenceEncoder):
    """Multi-head self-attention over the valid positions, then their mean; width multihead_attn_dim."""

    def __init__(
        self,
        input_name: str,
        sequence_dim: int,
        multihead_attn_dim: int = 512,
        num_heads: int = 8,
        dropout: float = 0.0,
        max_seq_length: int = 0,
        where: str = "self_attention_encoder",
    ) -> None:
        if num_heads <= 0 or multihead_attn_dim % num_heads:
            raise ConfigError(f"{where}.num_heads", f"multihead_attn_dim {multihead_attn_dim} is not divisible by num_heads {num_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"{where}.dropout", f"must be in [0, 1), got {dropout}")
        super().__init__(input_name, multihead_attn_dim, max_seq_length)
        self._heads = num_heads
        self._head_dim = multihead_attn_dim // num_heads
        self.query = nn.Linear(sequence_dim, multihead_attn_dim)
        self.key = nn.Linear(sequence_dim, multihead_attn_dim)
        self.value = nn.Linear(sequence_dim, multihead_attn_dim)
        self.out = nn.Linear(multihead_attn_dim, multihead_attn_dim)
        self.dropout = nn.Dropout(dropout)

    def _heads_first(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self._heads, self._head_dim)).transpose(1, 2)  # [B, H, T, d]

    def forward(self, groups: Dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, multihead_attn_dim]."""
        sequence, lengths = self._sequence(groups)
        mask = jagged.sequence_mask(lengths, sequence.size(1))
        q, k, v = self._heads_first(self.query(sequence)), self._heads_first(self.key(sequence)), self._heads_first(self.value(sequence))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self._head_dim)
        attention = self.dropout(_masked_softmax(scores, mask.unsqueeze(1).unsqueeze(2)))
        mixed = self.out(torch.matmul(attention, v).transpose(1, 2).flatten(2))  # [B, T, A]
        valid = mask.unsqueeze(-1).to(mixed.dtype)
        return (mixed * valid).sum(dim=1) / lengths.clamp(min=1).unsqueeze(1).to(mixed.dtype)


def _check_query(query_dim: int, sequence_dim: int, where: str) -> None:
    if query_dim <= 0:
        raise ConfigError(where, "target attention needs query features (non-sequence features) in its sequence group")
    if query_dim > sequence_dim:
        raise ConfigError(where, f"query width {query_dim} is larger than the sequence width {sequence_dim}")


_Builder = Callable[[Any, str, int, int, str], SequenceEncoder]

_BUILDERS: Dict[str, _Builder] = {
    "din_encoder": lambda c, name, dq, ds, where: DINEncoder(name, dq, ds, c.attn_mlp, c.max_seq_length, where),
    "simple_attention": lambda c, name, dq, ds, where: SimpleAttention(name, dq, ds, c.max_seq_length, where),
    "pooling_encoder": lambda c, name, dq, ds, where: PoolingEncoder(name, ds, c.pooling_type, c.max_seq_length),
    "multi_window_din_encoder": lambda c, name, dq, ds, where: MultiWindowDINEncoder(
        name, dq, ds, c.attn_mlp, list(c.windows_len), where
    ),
    "self_attention_encoder": lambda c, name, dq, ds, where: SelfAttentionEncoder(
        name, ds, c.multihead_attn_dim, c.num_heads, c.dropout, c.max_seq_length, where
    ),
}


def encoder_config(config: Any, where: str) -> Tuple[str, Any]:
    """(oneof name, inner message) of a SeqEncoderConfig."""
    kind = config.WhichOneof("seq_module")
    if kind is None:
        raise ConfigError(where, f"no sequence encoder is set; expected one of {sorted(_BUILDERS)}")
    return kind, getattr(config, kind)


def create_sequence_encoder(config: Any, input_name: str, query_dim: int, sequence_dim: int, where: str) -> SequenceEncoder:
    """The encoder a SeqEncoderConfig names, reading sequence group `input_name` of the given widths."""
    kind, inner = encoder_config(config, where)
    return _BUILDERS[kind](inner, input_name, query_dim, sequence_dim, f"{where}.{kind}")

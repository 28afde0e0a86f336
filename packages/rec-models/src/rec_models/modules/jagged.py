"""Jagged-tensor helpers shared by the embedding group and the sequence encoders.

Each helper is an FX leaf (`torch.fx.wrap`): its shape arithmetic depends on the data (the
longest row of a batch), which a symbolic trace cannot follow. Call them as `jagged.<name>`
so the trace sees the wrapped global; TorchScript compiles them as plain functions.
"""

# No `from __future__ import annotations`: TorchScript compiles these functions from source
# and needs real annotations.

import torch
import torchrec  # noqa: F401  (loads the fbgemm operators used below)


@torch.fx.wrap
def padded_length(lengths: torch.Tensor, cap: int) -> int:
    """Rows padded to the longest row, at most `cap` (0: no cap), at least 1 (empty batches stay 3-D)."""
    longest = int(lengths.max().item()) if lengths.numel() > 0 else 0
    if cap > 0:
        longest = min(longest, cap)
    return max(longest, 1)


@torch.fx.wrap
def to_padded(values: torch.Tensor, lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """[sum(lengths), D] rows -> [B, max_len, D], zero padded; longer rows keep their first max_len."""
    offsets = torch.ops.fbgemm.asynchronous_complete_cumsum(lengths.long())
    return torch.ops.fbgemm.jagged_to_padded_dense(values, [offsets], [max_len], 0.0)


@torch.fx.wrap
def pool(values: torch.Tensor, lengths: torch.Tensor, mean: bool) -> torch.Tensor:
    """Sum (or mean) of each segment of `values` rows; empty segments give zeros."""
    lengths = lengths.long()
    if values.size(0) == 0:
        # segment_reduce cannot run on no values; every segment is empty
        return values.new_zeros(lengths.size(0), values.size(1))
    out = torch.segment_reduce(values, "sum", lengths=lengths)
    if mean:
        out = out / lengths.clamp(min=1).unsqueeze(1).to(out.dtype)
    return out


@torch.fx.wrap
def sequence_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B, max_len] bool, True at the valid positions of each row."""
    positions = torch.arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


@torch.fx.wrap
def to_jagged(padded: torch.Tensor, lengths: torch.Tensor, total: int) -> torch.Tensor:
    """[B, T, D] -> the [total = sum(lengths), D] valid rows (the inverse of `to_padded`; lengths <= T).

    The caller passes `total`, known from a tensor's size, so no size is read from the data.
    """
    offsets = torch.ops.fbgemm.asynchronous_complete_cumsum(lengths.long())
    return torch.ops.fbgemm.dense_to_jagged(padded, [offsets], total)[0]


@torch.fx.wrap
def longest_row_carrier(lengths: torch.Tensor) -> torch.Tensor:
    """An empty [0, padded_length(lengths, 0)] tensor: the longest row as a tensor's width.

    Inside the embedding lookups (the part of an AOT export that stays TorchScript) the longest
    row is read from the data; a compiled dense part cannot read sizes from data, but it takes
    the sizes of its input tensors, so the length crosses the cut as this tensor's `size(1)`.
    """
    return lengths.new_empty(0, padded_length(lengths, 0))


@torch.fx.wrap
def causal_mask(lengths: torch.Tensor, max_len: int, window: int) -> torch.Tensor:
    """[B, max_len, max_len]: position i of a row sees its valid positions j <= i (and i - j < window when window > 0)."""
    positions = torch.arange(max_len, device=lengths.device)
    gap = positions.unsqueeze(1) - positions.unsqueeze(0)
    allowed = gap >= 0
    if window > 0:
        allowed = allowed & (gap < window)
    valid = positions.unsqueeze(0) < lengths.unsqueeze(1)
    return allowed.unsqueeze(0) & valid.unsqueeze(2) & valid.unsqueeze(1)


@torch.fx.wrap
def row_positions(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """[total = sum(lengths)]: each jagged value's index within its row (0, 1, ... per row)."""
    lengths = lengths.long()
    starts = torch.ops.fbgemm.asynchronous_exclusive_cumsum(lengths)
    return torch.arange(total, device=lengths.device) - torch.repeat_interleave(starts, lengths, output_size=total)

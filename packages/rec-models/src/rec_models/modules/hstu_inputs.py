"""Jagged token sequences for the HSTU models: row reversal and [contextual | history | candidate] rows.

Both helpers are FX leaves (`torch.fx.wrap`): their shapes follow the data, which a symbolic
trace cannot. TorchScript compiles them as plain functions.
"""

# No `from __future__ import annotations`: TorchScript compiles these functions from source.

from typing import Tuple  # noqa: UP035  (TorchScript reads typing names)

import torch

from rec_models.modules import jagged


@torch.fx.wrap
def reverse_rows(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row of jagged `values` [N, D] in reverse order (most recent first -> most recent last)."""
    positions = jagged.row_positions(lengths, values.size(0))
    lengths = lengths.long()
    per_value = torch.repeat_interleave(lengths, lengths, output_size=positions.numel())
    # value e at position p of a row of length n moves to e + n - 1 - 2p
    index = torch.arange(positions.numel(), device=values.device) + per_value - 1 - 2 * positions
    return values[index]


@torch.fx.wrap
def join_tokens(
    prefix: torch.Tensor, history: torch.Tensor, lengths: torch.Tensor, candidate: torch.Tensor, steps: int
) -> Tuple[torch.Tensor, torch.Tensor]:  # noqa: UP006
    """Rows [prefix (C tokens) | history (n_b tokens) | candidate (1 token)], jagged.

    prefix [B, C, D], history [sum(n), D] jagged by `lengths` [B] (each at most `steps`),
    candidate [B, D] -> (values [sum(C + n + 1), D], lengths C + n + 1). The candidate is each
    row's last token; every joined row is at most C + steps + 1 long.
    """
    padded = jagged.to_padded(history, lengths, steps)
    rows = torch.cat([prefix, padded, torch.zeros_like(padded[:, :1])], dim=1)
    # the candidate goes right after the row's last history token (a padding slot or the extra one)
    slot = (lengths.long() + prefix.size(1)).view(-1, 1, 1).expand(-1, 1, rows.size(2))
    rows = rows.scatter(1, slot, candidate.unsqueeze(1))
    joined = lengths.long() + prefix.size(1) + 1
    return jagged.to_jagged(rows, joined, history.size(0) + joined.size(0) * (prefix.size(1) + 1)), joined

"""Embedding-table optimizers for tables on TorchRec's dense kernel, with FBGEMM's update rules.

FBGEMM's fused kernels update only the rows a batch looked up, and CPU builds have no fused
kernel for Adam, LAMB, LARS-SGD or the partial row-wise variants. These torch optimizers
apply the same formulas to a dense [rows, dim] table, row-sparsely: a row whose gradient is
all zero keeps its weights and its optimizer state. Element-wise gradient clipping to
[-max_gradient, max_gradient] happens before the update when max_gradient > 0.

A param group's `embedding_l2` (lambda, default 0) adds lambda * w to every row's gradient,
the gradient of lambda/2 * ||W||^2 in the loss, and then updates every row, looked up or not.

Where a zero gradient leaves a row and its state unchanged (SGD, Adagrad, row-wise Adagrad
without L2 decay), tables of up to `DENSE_UPDATE_MAX_ELEMENTS` are updated whole: the same
result without finding and gathering the touched rows, which costs more than the update on
the small tables TorchRec's planner makes data_parallel.

State: `momentum1`/`momentum2` (per element, or per row for the row-wise second moments),
`sum` for Adagrad, and a shared `step` for bias correction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

WEIGHT_DECAY_NONE, WEIGHT_DECAY_L2, WEIGHT_DECAY_DECOUPLE = 0, 1, 2
DENSE_UPDATE_MAX_ELEMENTS = 1 << 16
# the rows an update touches: an index tensor, or slice(None) for the whole table
Rows = torch.Tensor | slice


class RowSparseOptimizer(torch.optim.Optimizer):
    """Base: finds the rows with a gradient and hands them to `update_rows`."""

    def __init__(self, params: Iterable[Any], lr: float, max_gradient: float = 0.0, **defaults: Any) -> None:
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        super().__init__(params, dict(lr=lr, max_gradient=max_gradient, embedding_l2=0.0, **defaults))

    def init_row_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Allocate the optimizer state of table `p` (called once, at its first step)."""

    def update_rows(
        self, w: torch.Tensor, g: torch.Tensor, rows: Rows, state: dict[str, Any], group: dict[str, Any]
    ) -> torch.Tensor:
        """New values of the rows `rows` (weights w, gradients g); update state[...][rows] in place."""
        raise NotImplementedError

    def zero_gradient_keeps_row(self, group: dict[str, Any]) -> bool:
        """True when a row with an all-zero gradient comes out of `update_rows` unchanged, state included."""
        return False

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One update of every table that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    self.init_row_state(p, state, group)
                state["step"] += 1
                table = _table(p)
                grad = p.grad.to_dense() if p.grad.is_sparse else p.grad
                grad = grad.reshape(table.shape)
                l2 = group["embedding_l2"]
                rows: Rows
                if l2 > 0:
                    rows, g = slice(None), grad + l2 * table
                elif table.numel() <= DENSE_UPDATE_MAX_ELEMENTS and self.zero_gradient_keeps_row(group):
                    rows, g = slice(None), grad
                else:
                    rows = (grad != 0).any(dim=1).nonzero().squeeze(1)
                    if rows.numel() == 0:
                        continue
                    g = grad[rows]
                if group["max_gradient"] > 0:
                    g = g.clamp(-group["max_gradient"], group["max_gradient"])
                table[rows] = self.update_rows(table[rows], g, rows, state, group)
        return loss


def _table(p: torch.Tensor) -> torch.Tensor:
    """The parameter as [rows, width] (a vector is one row)."""
    return p.view(p.shape[0], -1) if p.dim() != 1 else p.view(1, -1)


def _bias_corrections(state: dict[str, Any], group: dict[str, Any]) -> tuple[float, float]:
    t = float(state["step"])
    beta1, beta2 = group["betas"]
    return 1 - beta1**t, 1 - beta2**t


class SGD(RowSparseOptimizer):
    """w -= lr * g."""

    def zero_gradient_keeps_row(self, group: dict[str, Any]) -> bool:
        return True

    def update_rows(
        self, w: torch.Tensor, g: torch.Tensor, rows: Rows, state: dict[str, Any], group: dict[str, Any]
    ) -> torch.Tensor:
        return w - group["lr"] * g


class Adagrad(RowSparseOptimizer):
    """sum += g^2 (per element); w -= lr * g / (sqrt(sum) + eps)."""

    def __init__(self, params: Iterable[Any], lr: float = 0.01, eps: float = 1e-8, max_gradient: float = 0.0) -> None:
        super().__init__(params, lr, max_gradient, eps=eps)

    def init_row_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["sum"] = torch.zeros_like(_table(p))

    def zero_gradient_keeps_row(self, group: dict[str, Any]) -> bool:
        return True

    def update_rows(
        self, w: torch.Tensor, g: torch.Tensor, rows: Rows, state: dict[str, Any], group: dict[str, Any]
    ) -> torch.Tensor:
        acc = state["sum"][rows] + g.pow(2)
        state["sum"][rows] = acc
        return w - group["lr"] * g / (acc.sqrt() + group["eps"])


class RowWiseAdagrad(RowSparseOptimizer):
    """One accumulator per row: sum += mean(g^2); w -= lr * g / (sqrt(sum) + eps).

    weight_decay_mode 1 (L2) adds weight_decay * w to the gradient first; 2 (DECOUPLE)
    subtracts lr * weight_decay * w after.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.01,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        weight_decay_mode: int = WEIGHT_DECAY_NONE,
        max_gradient: float = 0.0,
    ) -> None:
        super().__init__(
            params, lr, max_gradient, eps=eps, weight_decay=weight_decay, weight_decay_mode=weight_decay_mode
        )

    def init_row_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["sum"] = torch.zeros(_table(p).shape[0], dtype=p.dtype, device=p.device)

    def zero_gradient_keeps_row(self, group: dict[str, Any]) -> bool:
        # L2 decay adds weight_decay * w to a zero gradient; decoupled decay shrinks the row
        return not group["weight_decay"] or group["weight_decay_mode"] == WEIGHT_DECAY_NONE

    def update_rows(
        self, w: torch.Tensor, g: torch.Tensor, rows: Rows, state: dict[str, Any], group: dict[str, Any]
    ) -> torch.Tensor:
        lr, decay, mode = group["lr"], group["weight_decay"], group["weight_decay_mode"]
        if mode == WEIGHT_DECAY_L2 and decay:
            g = g + decay * w
        acc = state["sum"][rows] + g.pow(2).mean(dim=1)
        state["sum"][rows] = acc
        out = w - lr * g / (acc.sqrt() + group["eps"]).unsqueeze(1)
        if mode == WEIGHT_DECAY_DECOUPLE and decay:
            out = out - lr * decay * w
        return out


class _AdamFamily(RowSparseOptimizer):
    """Shared moments of Adam/LAMB; `row_wise_momentum2` keeps one second moment per row."""

    row_wise_momentum2 = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        max_gradient: float = 0.0,
    ) -> None:
        super().__init__(params, lr, max_gradient, betas=tuple(betas), eps=eps, weight_decay=weight_decay)

    def init_row_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        table = _table(p)
        state["momentum1"] = torch.zeros_like(table)
        rows = torch.zeros(table.shape[0], dtype=p.dtype, device=p.device)
        state["momentum2"] = rows if self.row_wise_momentum2 else torch.zeros_like(table)

    def direction(self, w: torch.Tensor, g: torch.Tensor, rows: Rows, state: dict[str, Any], group: dict[str, Any]) -> torch.Tensor:
        """Bias-corrected m / (sqrt(v) + eps) + weight_decay * w for the rows."""
        beta1, beta2 = group["betas"]
        m = beta1 * state["momentum1"][rows] + (1 - beta1) * g
        if self.row_wise_momentum2:
            v = beta2 * state["momentum2"][rows] + (1 - beta2) * g.pow(2).mean(dim=1)
            v_full = v.unsqueeze(1)
        else:
            v = beta2 * state["momentum2"][rows] + (1 - beta2) * g.pow(2)
            v_full = v
        state["momentum1"][rows] = m
        state["momentum2"][rows] = v
        c1, c2 = _bias_corrections(state, group)
        return (m / c1) / ((v_full / c2).sqrt() + group["eps"]) + group["weight_decay"] * w


class Adam(_AdamFamily):
    """FBGEMM's Adam: w -= lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * w), touched rows only."""

    def update_rows(
        self, w: torch.Tensor, g: torch.Tensor, rows: Rows, state: dict[str, Any], group: dict[str, Any]
    ) -> torch.Tensor:
        return w - group["lr"] * self.direction(w, g, rows, state, group)


class PartialRowWiseAdam(Adam):
    """Adam with one second moment per row (the mean of the squared row gradient)."""

    row_wise_momentum2 = True


class LAMB(_AdamFamily):
    """LAMB: Adam's direction scaled per row by the trust ratio ||w|| / ||direction||."""

    def update_rows(
        self, w: torch.Tensor, g: torch.Tensor, rows: Rows, state: dict[str, Any], group: dict[str, Any]
    ) -> torch.Tensor:
        d = self.direction(w, g, rows, state, group)
        w_norm, d_norm = w.norm(dim=1), d.norm(dim=1)
        # a zero norm on either side leaves the plain step (ratio 1), as the LAMB paper does
        ratio = torch.where((w_norm > 0) & (d_norm > 0), w_norm / d_norm.clamp_min(1e-30), torch.ones_like(w_norm))
        return w - group["lr"] * ratio.unsqueeze(1) * d


class PartialRowWiseLAMB(LAMB):
    """LAMB with one second moment per row."""

    row_wise_momentum2 = True


class LarsSGD(RowSparseOptimizer):
    """LARS (You et al., 2017) with momentum, per row:
    local_lr = lr * eta * ||w|| / (||g|| + weight_decay * ||w||);
    m = momentum * m + local_lr * (g + weight_decay * w);  w -= m."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 0.001,
        max_gradient: float = 0.0,
    ) -> None:
        super().__init__(params, lr, max_gradient, momentum=momentum, weight_decay=weight_decay, eta=eta)

    def init_row_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["momentum1"] = torch.zeros_like(_table(p))

    def update_rows(
        self, w: torch.Tensor, g: torch.Tensor, rows: Rows, state: dict[str, Any], group: dict[str, Any]
    ) -> torch.Tensor:
        decay = group["weight_decay"]
        w_norm, g_norm = w.norm(dim=1), g.norm(dim=1)
        denom = g_norm + decay * w_norm
        local = torch.where(denom > 0, group["lr"] * group["eta"] * w_norm / denom.clamp_min(1e-30), torch.zeros_like(denom))
        m = group["momentum"] * state["momentum1"][rows] + local.unsqueeze(1) * (g + decay * w)
        state["momentum1"][rows] = m
        return w - m

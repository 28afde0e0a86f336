"""Optimizers and learning-rate schedules from TrainConfig's SparseOptimizer / DenseOptimizer."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torchrec.optim as trec_optim
from fbgemm_gpu.tbe.config.optimizer_config import WeightDecayMode
from torch.optim.lr_scheduler import LambdaLR

from rec_core.errors import ConfigError
from rec_models import sparse_optim


class SparseSpec(NamedTuple):
    """What sharding needs to know of the SparseOptimizer: the kind, TorchRec's fused class,
    FBGEMM's kwargs, and the whole-table L2 that only the dense kernel can apply."""

    kind: str  # the oneof name, e.g. "adam_optimizer"
    fused: type
    kwargs: dict[str, Any]
    embedding_l2: float = 0.0


@dataclass(frozen=True)
class _SparseKind:
    """One SparseOptimizer oneof: its TorchRec/FBGEMM form and its dense-kernel twin."""

    fused: type  # TorchRec's class naming the FBGEMM EmbOptimType
    fused_kwargs: Callable[[Any], dict[str, Any]]  # FBGEMM TBE argument names
    unfused: Callable[[Any, Any], torch.optim.Optimizer]  # same rule on a dense table (params, msg)
    cpu_kernel: bool  # fbgemm-gpu-cpu has a fused CPU kernel


def _adam_like(c: Any) -> dict[str, Any]:
    return {"lr": c.lr, "beta1": c.beta1, "beta2": c.beta2, "weight_decay": c.weight_decay, "eps": _EPS}


def _clip(c: Any) -> float:
    return float(c.max_gradient) if c.gradient_clipping else 0.0


_EPS = 1e-8  # FBGEMM's default; the Fused* messages have no eps field
_SPARSE: dict[str, _SparseKind] = {
    "sgd_optimizer": _SparseKind(
        trec_optim.SGD, lambda c: {"lr": c.lr}, lambda p, c: sparse_optim.SGD(p, c.lr, max_gradient=_clip(c)), True
    ),
    "adagrad_optimizer": _SparseKind(
        trec_optim.Adagrad,
        lambda c: {"lr": c.lr, "eps": _EPS},
        lambda p, c: sparse_optim.Adagrad(p, c.lr, _EPS, _clip(c)),
        True,
    ),
    "rowwise_adagrad_optimizer": _SparseKind(
        trec_optim.RowWiseAdagrad,
        lambda c: {"lr": c.lr, "eps": _EPS, "weight_decay": c.weight_decay, "weight_decay_mode": WeightDecayMode(c.weight_decay_mode)},
        lambda p, c: sparse_optim.RowWiseAdagrad(p, c.lr, _EPS, c.weight_decay, c.weight_decay_mode, _clip(c)),
        True,
    ),
    "adam_optimizer": _SparseKind(
        trec_optim.Adam,
        _adam_like,
        lambda p, c: sparse_optim.Adam(p, c.lr, (c.beta1, c.beta2), _EPS, c.weight_decay, _clip(c)),
        False,
    ),
    "partial_rowwise_adam_optimizer": _SparseKind(
        trec_optim.PartialRowWiseAdam,
        _adam_like,
        lambda p, c: sparse_optim.PartialRowWiseAdam(p, c.lr, (c.beta1, c.beta2), _EPS, c.weight_decay, _clip(c)),
        False,
    ),
    "lamb_optimizer": _SparseKind(
        trec_optim.LAMB,
        _adam_like,
        lambda p, c: sparse_optim.LAMB(p, c.lr, (c.beta1, c.beta2), _EPS, c.weight_decay, _clip(c)),
        False,
    ),
    "partial_rowwise_lamb_optimizer": _SparseKind(
        trec_optim.PartialRowWiseLAMB,
        _adam_like,
        lambda p, c: sparse_optim.PartialRowWiseLAMB(p, c.lr, (c.beta1, c.beta2), _EPS, c.weight_decay, _clip(c)),
        False,
    ),
    "lars_sgd_optimizer": _SparseKind(
        trec_optim.LarsSGD,
        lambda c: {"lr": c.lr, "momentum": c.momentum, "weight_decay": c.weight_decay},
        lambda p, c: sparse_optim.LarsSGD(p, c.lr, c.momentum, c.weight_decay, max_gradient=_clip(c)),
        False,
    ),
}
# fused on CPU; the others run on the dense kernel there (see needs_dense_kernel)
CPU_FUSED_SPARSE = frozenset(k for k, v in _SPARSE.items() if v.cpu_kernel)
# FBGEMM's fused kernels need embedding widths that are multiples of this
FUSED_DIM_MULTIPLE = 4

_DENSE: dict[str, Callable[[Any, Iterable[Any]], torch.optim.Optimizer]] = {
    "sgd_optimizer": lambda c, p: torch.optim.SGD(
        p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay, dampening=c.dampening, nesterov=c.nesterov
    ),
    "adagrad_optimizer": lambda c, p: torch.optim.Adagrad(
        p, lr=c.lr, weight_decay=c.weight_decay, initial_accumulator_value=c.initial_accumulator_value, eps=c.eps
    ),
    "adam_optimizer": lambda c, p: torch.optim.Adam(
        p, lr=c.lr, betas=(c.beta1, c.beta2), weight_decay=c.weight_decay, eps=c.eps, amsgrad=c.amsgrad
    ),
    "adamw_optimizer": lambda c, p: torch.optim.AdamW(
        p, lr=c.lr, betas=(c.beta1, c.beta2), weight_decay=c.weight_decay, eps=c.eps, amsgrad=c.amsgrad
    ),
    "adadelta_optimizer": lambda c, p: torch.optim.Adadelta(p, lr=c.lr, rho=c.rho, eps=c.eps, weight_decay=c.weight_decay),
    "rmsprop_optimizer": lambda c, p: torch.optim.RMSprop(
        p, lr=c.lr, alpha=c.alpha, eps=c.eps, weight_decay=c.weight_decay, momentum=c.momentum, centered=c.centered
    ),
}


def _sparse_kind(config: Any) -> tuple[str, _SparseKind, Any]:
    kind = config.WhichOneof("optimizer")
    if kind not in _SPARSE:
        raise ConfigError(
            f"train_config.sparse_optimizer.{kind or '<optimizer>'}",
            f"expected one of {sorted(_SPARSE)} (TorchRec has no fused kernels for Adadelta or RMSprop)",
        )
    msg = getattr(config, kind)
    if kind == "adagrad_optimizer" and msg.initial_accumulator_value:
        raise ConfigError(
            "train_config.sparse_optimizer.adagrad_optimizer.initial_accumulator_value",
            "FBGEMM's fused Adagrad starts every accumulator at 0; other values are not supported",
        )
    return kind, _SPARSE[kind], msg


def sparse_optimizer_spec(config: Any) -> SparseSpec:
    """The SparseOptimizer as sharding uses it: fused into the tables' backward where it can be."""
    kind, spec, msg = _sparse_kind(config)
    kwargs = spec.fused_kwargs(msg)
    if msg.gradient_clipping:
        kwargs.update(gradient_clipping=True, max_gradient=msg.max_gradient)
    return SparseSpec(kind, spec.fused, kwargs, _embedding_l2(config))


def _embedding_l2(config: Any) -> float:
    l2 = float(config.embedding_l2_regularization)
    if l2 < 0:
        raise ConfigError("train_config.sparse_optimizer.embedding_l2_regularization", f"must be >= 0, got {l2}")
    return l2


def needs_dense_kernel(sparse_optimizer: SparseSpec, device_type: str, embedding_dim: int) -> bool:
    """True when FBGEMM cannot fuse the sparse optimizer into a table of this width on this
    device: whole-table L2 (fused kernels see only the looked-up rows), widths not a multiple of
    4; on CPU, optimizers without a CPU kernel, and RowWiseAdagrad with weight decay (the CPU
    kernel ignores weight decay)."""
    if sparse_optimizer.embedding_l2 or embedding_dim % FUSED_DIM_MULTIPLE:
        return True
    if device_type != "cpu":
        return False
    return sparse_optimizer.kind not in CPU_FUSED_SPARSE or bool(sparse_optimizer.kwargs.get("weight_decay"))


def create_unfused_sparse_optimizer(config: Any, params: Iterable[Any]) -> torch.optim.Optimizer:
    """The SparseOptimizer's update rule for tables on the dense kernel (see `sparse_optim`)."""
    _, spec, msg = _sparse_kind(config)
    optimizer = spec.unfused(params, msg)
    for group in optimizer.param_groups:
        group["embedding_l2"] = _embedding_l2(config)
    return optimizer


def create_dense_optimizer(config: Any, params: Iterable[Any]) -> torch.optim.Optimizer:
    """The dense optimizer over `params` (names or tensors, as torch accepts)."""
    kind = config.WhichOneof("optimizer")
    if kind not in _DENSE:
        raise ConfigError(f"train_config.dense_optimizer.{kind or '<optimizer>'}", f"expected one of {sorted(_DENSE)}")
    return _DENSE[kind](getattr(config, kind), params)


def base_lr(config: Any) -> float:
    """The configured learning rate of a Sparse/DenseOptimizer."""
    return float(getattr(config, config.WhichOneof("optimizer")).lr)


def _warmup(t: int, size: int, start: float, target: float) -> float | None:
    if size and t < size:
        return start + (target - start) * t / size
    return None


def lr_function(config: Any, lr: float, where: str) -> tuple[Callable[[int], float], bool]:
    """(step -> learning rate, by_epoch) for the optimizer config's learning_rate oneof."""
    kind = config.WhichOneof("learning_rate") or "constant_learning_rate"
    c = getattr(config, kind)
    if kind == "constant_learning_rate":
        return (lambda t: lr), False
    if kind == "exponential_decay_learning_rate":
        if not c.decay_size:
            raise ConfigError(f"{where}.exponential_decay_learning_rate.decay_size", "must be > 0")

        def exp_decay(t: int) -> float:
            w = _warmup(t, c.warmup_size, c.warmup_learning_rate, lr)
            if w is not None:
                return w
            p = (t - c.warmup_size) / c.decay_size
            p = math.floor(p) if c.staircase else p
            return max(lr * c.decay_factor**p, c.min_learning_rate)

        return exp_decay, c.by_epoch
    if kind == "manual_step_learning_rate":
        sizes, rates = list(c.schedule_sizes), list(c.learning_rates)
        if len(sizes) != len(rates) or sorted(sizes) != sizes:
            raise ConfigError(
                f"{where}.manual_step_learning_rate",
                "schedule_sizes must be increasing and as many as learning_rates",
            )

        def manual(t: int) -> float:
            # TorchEasyRec switches to learning_rates[i] once t passes schedule_sizes[i] (t > size)
            i = bisect.bisect_left(sizes, t)
            if i > 0:
                return rates[i - 1]
            if c.warmup and sizes and sizes[0] > 0:
                # linear from the optimizer's lr at t=0 to learning_rates[0] at schedule_sizes[0]
                return lr + (rates[0] - lr) * t / sizes[0]
            return lr

        return manual, c.by_epoch
    if kind in ("cosine_annealing_learning_rate", "cosine_annealing_warm_restarts_learning_rate"):
        restarts = kind == "cosine_annealing_warm_restarts_learning_rate"
        period = c.T_0 if restarts else c.T_max
        if not period:
            raise ConfigError(f"{where}.{kind}", "needs T_0/T_max > 0")

        def cosine(t: int) -> float:
            w = _warmup(t, c.warmup_size, c.warmup_learning_rate, lr)
            if w is not None:
                return w
            t, span = t - c.warmup_size, period
            if restarts:
                while t >= span:
                    t, span = t - span, span * max(c.T_mult, 1)
            else:
                t = min(t, span)
            return c.min_learning_rate + (lr - c.min_learning_rate) * (1 + math.cos(math.pi * t / span)) / 2

        return cosine, c.by_epoch
    raise ConfigError(f"{where}.learning_rate", f"unsupported schedule {kind!r}")


class LRScheduler(LambdaLR):
    """LambdaLR driven by a config schedule; `by_epoch` says whether to step per epoch or per step."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: Any, where: str) -> None:
        lr = base_lr(config)
        fn, self.by_epoch = lr_function(config, lr, where)
        super().__init__(optimizer, lambda t: fn(t) / lr if lr else 0.0)

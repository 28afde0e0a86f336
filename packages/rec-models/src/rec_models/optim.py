"""Optimizers and learning-rate schedules from TrainConfig's SparseOptimizer / DenseOptimizer."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torchrec.optim as trec_optim
from torch.optim.lr_scheduler import LambdaLR

from rec_core.errors import ConfigError

# Sparse optimizers fused into the embedding backward (FBGEMM TBE) and the ones its CPU kernels lack.
_SPARSE: dict[str, tuple[type, Callable[[Any], dict[str, Any]]]] = {
    "sgd_optimizer": (torch.optim.SGD, lambda c: {"lr": c.lr}),
    "adagrad_optimizer": (torch.optim.Adagrad, lambda c: {"lr": c.lr, "eps": 1e-8}),
    "rowwise_adagrad_optimizer": (
        trec_optim.RowWiseAdagrad,
        lambda c: {"lr": c.lr, "weight_decay": c.weight_decay},
    ),
    "adam_optimizer": (
        torch.optim.Adam,
        lambda c: {"lr": c.lr, "betas": (c.beta1, c.beta2), "weight_decay": c.weight_decay},
    ),
    "partial_rowwise_adam_optimizer": (
        trec_optim.PartialRowWiseAdam,
        lambda c: {"lr": c.lr, "betas": (c.beta1, c.beta2), "weight_decay": c.weight_decay},
    ),
    "lamb_optimizer": (
        trec_optim.LAMB,
        lambda c: {"lr": c.lr, "betas": (c.beta1, c.beta2), "weight_decay": c.weight_decay},
    ),
    "partial_rowwise_lamb_optimizer": (
        trec_optim.PartialRowWiseLAMB,
        lambda c: {"lr": c.lr, "betas": (c.beta1, c.beta2), "weight_decay": c.weight_decay},
    ),
    "lars_sgd_optimizer": (
        trec_optim.LarsSGD,
        lambda c: {"lr": c.lr, "momentum": c.momentum, "weight_decay": c.weight_decay},
    ),
}
CPU_FUSED_SPARSE = {"sgd_optimizer", "adagrad_optimizer", "rowwise_adagrad_optimizer"}

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


def sparse_optimizer_spec(config: Any) -> tuple[str, type, dict[str, Any]]:
    """(oneof name, optimizer class, kwargs) to fuse into the embedding tables' backward."""
    kind = config.WhichOneof("optimizer")
    if kind not in _SPARSE:
        raise ConfigError(
            f"train_config.sparse_optimizer.{kind or '<optimizer>'}",
            f"expected one of {sorted(_SPARSE)}",
        )
    cls, kwargs_of = _SPARSE[kind]
    msg = getattr(config, kind)
    kwargs = kwargs_of(msg)
    if msg.gradient_clipping:
        kwargs.update(gradient_clipping=True, max_gradient=msg.max_gradient)
    return kind, cls, kwargs


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

"""The combined optimizer (fused sparse + dense) and its learning-rate schedulers."""

from __future__ import annotations

from typing import Any

from torch import nn
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
from torchrec.optim.optimizers import in_backward_optimizer_filter

from rec_models.optim import LRScheduler, create_dense_optimizer


def build_optimizer(model: nn.Module, train_config: Any) -> tuple[CombinedOptimizer, list[LRScheduler]]:
    """Dense optimizer over non-embedding params, combined with the DMP's fused one."""
    dense_params = dict(in_backward_optimizer_filter(model.named_parameters()))
    dense = KeyedOptimizerWrapper(dense_params, lambda p: create_dense_optimizer(train_config.dense_optimizer, p))
    parts: list[Any] = [("dense", dense)]
    schedulers = [LRScheduler(dense, train_config.dense_optimizer, "train_config.dense_optimizer")]
    fused = getattr(model, "fused_optimizer", None)
    if fused is not None and fused.params:
        parts.insert(0, ("sparse", fused))
        schedulers.insert(0, LRScheduler(fused, train_config.sparse_optimizer, "train_config.sparse_optimizer"))
    return CombinedOptimizer(parts), schedulers

"""The combined optimizer (sparse + dense) and its learning-rate schedulers."""

from __future__ import annotations

from typing import Any

from torch import nn
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
from torchrec.optim.optimizers import in_backward_optimizer_filter

from rec_models.optim import LRScheduler, create_dense_optimizer, sparse_optimizer_spec

# embedding tables that sharding did not fuse into the backward (e.g. the dense kernel) keep this
# name fragment; they still belong to the sparse optimizer, never to the dense one
_TABLE_MARK = ".embedding_bags."


def build_optimizer(model: nn.Module, train_config: Any) -> tuple[CombinedOptimizer, list[LRScheduler]]:
    """Sparse optimizer for every embedding table, dense optimizer for the other parameters."""
    unfused = dict(in_backward_optimizer_filter(model.named_parameters()))
    tables = {k: v for k, v in unfused.items() if _TABLE_MARK in k}
    dense_params = {k: v for k, v in unfused.items() if k not in tables}
    dense = KeyedOptimizerWrapper(dense_params, lambda p: create_dense_optimizer(train_config.dense_optimizer, p))
    parts: list[Any] = [("dense", dense)]
    schedulers = [LRScheduler(dense, train_config.dense_optimizer, "train_config.dense_optimizer")]
    sparse_where = "train_config.sparse_optimizer"
    fused = getattr(model, "fused_optimizer", None)
    if fused is not None and fused.params:
        parts.insert(0, ("sparse", fused))
        schedulers.insert(0, LRScheduler(fused, train_config.sparse_optimizer, sparse_where))
    if tables:
        _, cls, kwargs = sparse_optimizer_spec(train_config.sparse_optimizer)
        kwargs = {k: v for k, v in kwargs.items() if k not in ("gradient_clipping", "max_gradient")}
        unfused_sparse = KeyedOptimizerWrapper(tables, lambda p: cls(p, **kwargs))
        parts.insert(0, ("sparse_unfused", unfused_sparse))
        schedulers.insert(0, LRScheduler(unfused_sparse, train_config.sparse_optimizer, sparse_where))
    return CombinedOptimizer(parts), schedulers

"""The combined optimizer (sparse + dense) and its learning-rate schedulers.

Embedding tables belong to the sparse optimizer: fused into the backward (FBGEMM) where the
kernel allows, otherwise on TorchRec's dense kernel with the same update rule from
`rec_models.sparse_optim`. Tables whose features are all `trainable: false` never update.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import torchrec.optim as trec_optim
from torch import nn
from torchrec.modules.embedding_modules import EmbeddingBagCollection, EmbeddingCollection
from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
from torchrec.optim.optimizers import in_backward_optimizer_filter

from rec_core.errors import ConfigError
from rec_models.optim import LRScheduler, SparseSpec, create_dense_optimizer, create_unfused_sparse_optimizer

# embedding tables that sharding did not fuse into the backward (e.g. the dense kernel) keep this
# name fragment; they still belong to the sparse optimizer, never to the dense one
_TABLE_MARKS = (".embedding_bags.", ".embeddings.")
# a frozen table's fused "optimizer": plain SGD that moves nothing
_FROZEN = (trec_optim.SGD, {"lr": 0.0})


def _table_configs(module: nn.Module) -> list[Any]:
    """Table configs of an embedding collection, before or after sharding (None otherwise)."""
    if isinstance(module, EmbeddingBagCollection):
        return module.embedding_bag_configs()
    if isinstance(module, EmbeddingCollection):
        return module.embedding_configs()
    # the sharded collections keep the configs they were built from
    return list(getattr(module, "_embedding_bag_configs", None) or getattr(module, "_embedding_configs", None) or [])


def frozen_tables(model: nn.Module) -> set[str]:
    """Names of the tables whose features are all `trainable: false`."""
    trainable = {f.name: f.trainable for m in model.modules() for f in getattr(m, "features", [])}
    frozen = set()
    for module in model.modules():
        for table in _table_configs(module):
            flags = {trainable.get(name, True) for name in table.feature_names}
            if flags == {False}:
                frozen.add(table.name)
            elif len(flags) > 1:
                raise ConfigError(
                    f"feature {table.feature_names[0]!r}.trainable",
                    f"features sharing table {table.name!r} ({', '.join(table.feature_names)}) disagree on trainable",
                )
    return frozen


def apply_sparse_optimizer(
    model: nn.Module, sparse_optimizer: SparseSpec, skip: Collection[nn.Module] = ()
) -> None:
    """Before sharding: fuse the sparse optimizer into each trainable table of the model's
    EmbeddingBagCollections and EmbeddingCollections (the ones sharding plans), a no-op SGD
    into each frozen one. Collections in `skip` stay unsharded: `build_optimizer` trains them."""
    cls, kwargs = sparse_optimizer.fused, sparse_optimizer.kwargs
    frozen = frozen_tables(model)
    for module in model.modules():
        if not isinstance(module, (EmbeddingBagCollection, EmbeddingCollection)) or module in skip:
            continue
        by_name = module.embedding_bags if isinstance(module, EmbeddingBagCollection) else module.embeddings
        for name, table in by_name.items():
            opt_cls, opt_kwargs = _FROZEN if name in frozen else (cls, kwargs)
            apply_optimizer_in_backward(opt_cls, table.parameters(), opt_kwargs)


def _is_frozen(param_name: str, frozen: Iterable[str]) -> bool:
    return any(f"{mark}{table}." in param_name for table in frozen for mark in _TABLE_MARKS)


def build_optimizer(model: nn.Module, train_config: Any) -> tuple[CombinedOptimizer, list[LRScheduler]]:
    """Sparse optimizer for every embedding table, dense optimizer for the other parameters."""
    unfused = dict(in_backward_optimizer_filter(model.named_parameters()))
    tables = {k: v for k, v in unfused.items() if any(mark in k for mark in _TABLE_MARKS)}
    dense_params = {k: v for k, v in unfused.items() if k not in tables}
    frozen = frozen_tables(model)
    tables = {k: v for k, v in tables.items() if not _is_frozen(k, frozen)}
    dense = KeyedOptimizerWrapper(dense_params, lambda p: create_dense_optimizer(train_config.dense_optimizer, p))
    parts: list[Any] = [("dense", dense)]
    schedulers = [LRScheduler(dense, train_config.dense_optimizer, "train_config.dense_optimizer")]
    sparse_where = "train_config.sparse_optimizer"
    fused = getattr(model, "fused_optimizer", None)
    if fused is not None and fused.params:
        parts.insert(0, ("sparse", fused))
        schedulers.insert(0, LRScheduler(fused, train_config.sparse_optimizer, sparse_where))
    if tables:
        unfused_sparse = KeyedOptimizerWrapper(
            tables, lambda p: create_unfused_sparse_optimizer(train_config.sparse_optimizer, p)
        )
        parts.insert(0, ("sparse_unfused", unfused_sparse))
        schedulers.insert(0, LRScheduler(unfused_sparse, train_config.sparse_optimizer, sparse_where))
    return CombinedOptimizer(parts), schedulers

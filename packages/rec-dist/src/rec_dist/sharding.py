"""Shard a model's embedding tables with TorchRec's planner and DistributedModelParallel."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torchrec.distributed import DistributedModelParallel
from torchrec.distributed.embedding import EmbeddingCollectionSharder
from torchrec.distributed.embedding_types import EmbeddingComputeKernel
from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
from torchrec.distributed.mc_embedding import ManagedCollisionEmbeddingCollectionSharder
from torchrec.distributed.mc_embeddingbag import ManagedCollisionEmbeddingBagCollectionSharder
from torchrec.distributed.planner import EmbeddingShardingPlanner, ParameterConstraints, Topology
from torchrec.distributed.planner.storage_reservations import HeuristicalStorageReservation
from torchrec.distributed.types import ShardingPlan, ShardingType
from torchrec.modules.embedding_modules import EmbeddingBagCollection, EmbeddingCollection
from torchrec.modules.mc_embedding_modules import BaseManagedCollisionEmbeddingCollection

from rec_core.errors import ConfigError
from rec_core.logging_utils import get_logger
from rec_dist.optimizers import _table_configs, apply_sparse_optimizer
from rec_models.optim import CPU_FUSED_SPARSE, FUSED_DIM_MULTIPLE, SparseSpec, needs_dense_kernel

logger = get_logger(__name__)

_SHARDING_TYPES = {s.value for s in ShardingType}
_KERNELS = {k.value for k in EmbeddingComputeKernel}


def _collections(model: nn.Module) -> list[EmbeddingBagCollection | EmbeddingCollection]:
    # EmbeddingCollections hold the unpooled tables that sequence groups read
    return [m for m in model.modules() if isinstance(m, (EmbeddingBagCollection, EmbeddingCollection))]


class _RowWiseEbcSharder(EmbeddingBagCollectionSharder):
    """TorchRec offers row-wise sharding of pooled tables only on GPU; managed-collision (zch)
    tables need it (each rank remaps the ids of its own rows), and FBGEMM's CPU kernels run it."""

    def sharding_types(self, compute_device_type: str) -> list[str]:
        return sorted({*super().sharding_types(compute_device_type), ShardingType.ROW_WISE.value})


class _DeviceKernels:
    """Managed-collision sharders list GPU kernels on every device; keep those the tables' sharder offers."""

    def compute_kernels(self, sharding_type: str, compute_device_type: str) -> list[str]:
        offered = self._e_sharder.compute_kernels(sharding_type, compute_device_type)  # type: ignore[attr-defined]
        return [k for k in super().compute_kernels(sharding_type, compute_device_type) if k in offered]  # type: ignore[misc]


class _ZchEbcSharder(_DeviceKernels, ManagedCollisionEmbeddingBagCollectionSharder):
    pass


class _ZchEcSharder(_DeviceKernels, ManagedCollisionEmbeddingCollectionSharder):
    pass


def _prepare_zch(model: nn.Module, sparse_optimizer: SparseSpec, device: torch.device, world_size: int) -> None:
    """Managed-collision (zch) tables shard only row-wise, which needs a fused kernel; each rank
    remaps one contiguous block of the raw id space (TorchRec's `buckets`, one per rank)."""
    for m in model.modules():
        if not isinstance(m, BaseManagedCollisionEmbeddingCollection):
            continue
        mcc = m._managed_collision_collection
        for module in mcc._managed_collision_modules.values():
            module._buckets = world_size
        if device.type == "cpu" and world_size > 1 and isinstance(m._embedding_module, EmbeddingBagCollection):
            # gloo's all-gather (the backward of the row-wise reduce-scatter) takes equal sizes only
            logger.warning(
                "zch tables %s are pooled row-wise over gloo: every rank needs the same batch size; "
                "set data_config.drop_remainder: true (a smaller last batch fails in its backward)",
                [t.name for t in mcc.embedding_configs()],
            )
        for table in mcc.embedding_configs():
            if needs_dense_kernel(sparse_optimizer, device.type, table.embedding_dim):
                raise ConfigError(
                    f"feature {table.feature_names[0]!r}.zch",
                    f"zch table {table.name!r} (embedding_dim {table.embedding_dim}) shards only row-wise, which needs "
                    f"a fused sparse optimizer: embedding_dim must be a multiple of {FUSED_DIM_MULTIPLE}, and on CPU the "
                    f"sparse optimizer must be one of {sorted(CPU_FUSED_SPARSE)} without weight decay; "
                    "embedding_l2_regularization needs the dense kernel everywhere",
                )


def _unsharded_collections(model: nn.Module, sparse_optimizer: SparseSpec, device: torch.device) -> dict[str, EmbeddingCollection]:
    """EmbeddingCollections left unsharded, by module path: those needing the dense kernel on CPU,
    whose FBGEMM implementation pools the rows it should return one by one."""
    if device.type != "cpu":
        return {}
    return {
        path: m
        for path, m in model.named_modules()
        if isinstance(m, EmbeddingCollection)
        and any(needs_dense_kernel(sparse_optimizer, device.type, t.embedding_dim) for t in m.embedding_configs())
    }


def _materialize(collection: EmbeddingCollection, device: torch.device) -> None:
    """Tables built on the meta device, allocated and initialised by their configs' init_fn
    (DMP would give an unsharded table nn.Embedding's default initialisation)."""
    if not any(p.is_meta for p in collection.parameters()):
        return
    collection.to_empty(device=device)
    with torch.no_grad():
        for table in collection.embedding_configs():
            if table.init_fn is not None:
                table.init_fn(collection.embeddings[table.name].weight)


def _constraint(msg: Any, where: str, force_dense: bool, table: Any = None) -> ParameterConstraints | None:
    sharding = list(msg.sharding_types) if msg is not None else []
    kernels = list(msg.compute_kernels) if msg is not None else []
    for s in sharding:
        if s not in _SHARDING_TYPES:
            raise ConfigError(f"{where}.sharding_types", f"unknown sharding type {s!r}; expected one of {sorted(_SHARDING_TYPES)}")
    for k in kernels:
        if k not in _KERNELS:
            raise ConfigError(f"{where}.compute_kernels", f"unknown compute kernel {k!r}; expected one of {sorted(_KERNELS)}")
    if force_dense:
        # TorchRec runs the dense kernel only for data-parallel tables
        if sharding and ShardingType.DATA_PARALLEL.value not in sharding:
            dim = table.embedding_dim
            why = (
                f"its embedding_dim {dim} is not a multiple of {FUSED_DIM_MULTIPLE}"
                if dim % FUSED_DIM_MULTIPLE
                else "the sparse optimizer has no fused kernel for it on this device"
            )
            raise ConfigError(
                f"{where}.sharding_types",
                f"table {table.name!r} (features {', '.join(table.feature_names)}) needs the dense kernel because "
                f"{why}; only data_parallel sharding has it, but {sharding} is allowed",
            )
        kernels = [EmbeddingComputeKernel.DENSE.value]
    if not sharding and not kernels:
        return None
    return ParameterConstraints(sharding_types=sharding or None, compute_kernels=kernels or None)


def table_constraints(
    model: nn.Module, global_constraints: Any = None, dense_kernel: Callable[[int], bool] = lambda dim: False
) -> dict[str, ParameterConstraints]:
    """Planner constraints per table: a feature's embedding_constraints, else the global ones;
    tables for which `dense_kernel(embedding_dim)` holds are pinned to the dense kernel."""
    features = {f.name: f for m in model.modules() for f in getattr(m, "features", [])}
    out = {}
    for collection in _collections(model):
        for table in _table_configs(collection):
            own = [features[n].config for n in table.feature_names if n in features]
            own = [c for c in own if c.HasField("embedding_constraints")]
            if own:
                msg, where = own[0].embedding_constraints, f"feature {own[0].feature_name!r}.embedding_constraints"
            else:
                msg, where = global_constraints, "train_config.global_embedding_constraints"
            constraint = _constraint(msg, where, dense_kernel(table.embedding_dim), table)
            if constraint is not None:
                out[table.name] = constraint
    return out


def shard_model(
    model: nn.Module,
    device: torch.device,
    batch_size: int,
    sparse_optimizer: SparseSpec,
    global_constraints: Any = None,
    plan: ShardingPlan | None = None,
) -> DistributedModelParallel:
    """Fuse the sparse optimizer into the embedding backward, plan the sharding and wrap in DMP.

    FBGEMM fuses only widths that are multiples of 4, and on CPU only SGD/Adagrad/RowWiseAdagrad;
    other tables run on the dense kernel (data parallel), updated by the same rule through
    `build_optimizer`. A `plan` (e.g. restored with a checkpoint of the same world size) is used as is.
    """
    world_size = dist.get_world_size()
    _prepare_zch(model, sparse_optimizer, device, world_size)
    unsharded = _unsharded_collections(model, sparse_optimizer, device)
    for collection in unsharded.values():
        _materialize(collection, device)
    apply_sparse_optimizer(model, sparse_optimizer, skip=list(unsharded.values()))
    sharders = [
        EmbeddingBagCollectionSharder(),
        EmbeddingCollectionSharder(),
        _ZchEbcSharder(_RowWiseEbcSharder()),
        _ZchEcSharder(),
    ]
    if plan is None:
        reserve = float(os.environ.get("STORAGE_RESERVE_PERCENT", "0.15"))
        planner = EmbeddingShardingPlanner(
            topology=Topology(world_size=world_size, compute_device=device.type),
            batch_size=batch_size,
            constraints=table_constraints(model, global_constraints, lambda dim: needs_dense_kernel(sparse_optimizer, device.type, dim)),
            storage_reservation=HeuristicalStorageReservation(percentage=reserve),
        )
        plan = planner.collective_plan(model, sharders, dist.GroupMember.WORLD)
        for path in unsharded:
            plan.plan.pop(path, None)
    if dist.get_rank() == 0:
        placement = ", ".join(
            f"{table}:{p['sharding_type']}@{p['ranks']}" for tables in plan_to_dict(plan).values() for table, p in tables.items()
        )
        logger.info("sharding plan over %d rank(s): %s", world_size, placement)
    return DistributedModelParallel(model, device=device, plan=plan, sharders=sharders)


def plan_to_dict(plan: ShardingPlan) -> dict[str, dict[str, dict[str, Any]]]:
    """{module path: {table: {sharding_type, compute_kernel, ranks}}}, JSON-ready."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for module_path, module_plan in plan.plan.items():
        out[module_path] = {
            table: {
                "sharding_type": ps.sharding_type,
                "compute_kernel": ps.compute_kernel,
                "ranks": list(ps.ranks or []),
            }
            for table, ps in module_plan.items()  # type: ignore[attr-defined]
        }
    return out

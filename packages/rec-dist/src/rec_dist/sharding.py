"""Shard a model's embedding tables with TorchRec's planner and DistributedModelParallel."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torchrec.distributed import DistributedModelParallel
from torchrec.distributed.types import ShardingPlan
from torchrec.distributed.embedding_types import EmbeddingComputeKernel
from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
from torchrec.distributed.planner import EmbeddingShardingPlanner, ParameterConstraints, Topology
from torchrec.modules.embedding_modules import EmbeddingBagCollection
from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward

from rec_core.logging_utils import get_logger
from rec_models.optim import CPU_FUSED_SPARSE

logger = get_logger(__name__)


def embedding_tables(model: nn.Module) -> list[str]:
    """Names of every embedding table in the model."""
    return [cfg.name for m in model.modules() if isinstance(m, EmbeddingBagCollection) for cfg in m.embedding_bag_configs()]


def shard_model(
    model: nn.Module,
    device: torch.device,
    batch_size: int,
    sparse_optimizer: tuple[str, type, dict[str, Any]],
) -> DistributedModelParallel:
    """Fuse the sparse optimizer into the embedding backward, plan the sharding and wrap in DMP.

    On CPU the FBGEMM kernels fuse only SGD/Adagrad/RowWiseAdagrad; other sparse optimizers
    run on the dense embedding kernel there, still applied in the backward pass.
    """
    kind, cls, kwargs = sparse_optimizer
    for m in model.modules():
        if isinstance(m, EmbeddingBagCollection):
            apply_optimizer_in_backward(cls, m.parameters(), kwargs)
    constraints = None
    if device.type == "cpu" and kind not in CPU_FUSED_SPARSE:
        constraints = {
            t: ParameterConstraints(compute_kernels=[EmbeddingComputeKernel.DENSE.value]) for t in embedding_tables(model)
        }
    world_size = dist.get_world_size()
    planner = EmbeddingShardingPlanner(
        topology=Topology(world_size=world_size, compute_device=device.type),
        batch_size=batch_size,
        constraints=constraints,
    )
    sharders = [EmbeddingBagCollectionSharder()]
    plan = planner.collective_plan(model, sharders, dist.GroupMember.WORLD)
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

"""Zero-collision hashing (`zch`): TorchRec managed-collision modules for the tables of zch features.

FG gives a zch feature raw 63-bit hashes; a `MCHManagedCollisionModule` per table remaps them to
rows in [0, zch_size), evicting by LFU, LRU or distance-LFU score every `eviction_interval`
steps. rec-models wraps the tables of zch features with these (TorchRec's
`ManagedCollisionEmbeddingBagCollection`, or `ManagedCollisionEmbeddingCollection` for tables a
sequence group reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchrec.modules.mc_modules import (
    DistanceLFU_EvictionPolicy,
    LFU_EvictionPolicy,
    LRU_EvictionPolicy,
    MCHEvictionPolicy,
    MCHManagedCollisionModule,
)

from rec_core.errors import ConfigError
from rec_features.bucketize import ZCH_HASH_SIZE
from rec_features.features.base import BaseFeature


def is_zch(feature: BaseFeature) -> bool:
    """True for a feature whose ids go through a managed-collision module."""
    bucketizer = getattr(feature, "bucketizer", None)
    return getattr(bucketizer, "kind", "") == "zch"


def eviction_policy(zch: Any) -> MCHEvictionPolicy:
    """The TorchRec eviction policy of a ZeroCollisionHash message (LFU when none is set)."""
    kind = zch.WhichOneof("eviction_policy")
    if kind == "lru":
        return LRU_EvictionPolicy(decay_exponent=zch.lru.decay_exponent)
    if kind == "distance_lfu":
        return DistanceLFU_EvictionPolicy(decay_exponent=zch.distance_lfu.decay_exponent)
    return LFU_EvictionPolicy()


def managed_collision_modules(
    features: Sequence[BaseFeature], device: torch.device | None = None, name_suffix: str = ""
) -> dict[str, MCHManagedCollisionModule]:
    """One module per embedding table of the zch features (keyed by table name, as
    `embedding_bag_configs` names tables); features sharing a table must share its zch settings."""
    out: dict[str, MCHManagedCollisionModule] = {}
    settings: dict[str, tuple[str, Any]] = {}
    for f in features:
        if not is_zch(f):
            continue
        table = f"{f.embedding_name}{name_suffix}"
        zch = f.config.zch
        if table in settings:
            if settings[table][1] != zch:
                raise ConfigError(f"feature {f.name!r}.zch", f"shares table {table!r} with {settings[table][0]!r} but its zch settings differ")
            continue
        settings[table] = (f.name, zch)
        out[table] = MCHManagedCollisionModule(
            zch_size=int(zch.zch_size),
            device=device or torch.device("cpu"),
            eviction_policy=eviction_policy(zch),
            eviction_interval=int(zch.eviction_interval),
            input_hash_size=ZCH_HASH_SIZE,
            name=table,
        )
    return out

"""EmbeddingGroup: turns a Batch into one dense tensor per feature group, over TorchRec tables.

DEEP groups concatenate pooled embeddings of sparse features and the values of dense ones;
WIDE groups look every sparse feature up in its own `<embedding_name>_wide` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torchrec.modules.embedding_modules import EmbeddingBagCollection

from rec_core.batch import BASE_DATA_GROUP, Batch
from rec_core.errors import ConfigError
from rec_features.embedding import embedding_bag_configs
from rec_features.features.base import BaseFeature

DEEP, WIDE = 0, 1


class EmbeddingGroup(nn.Module):
    """Pooled feature-group tensors from one EmbeddingBagCollection (plus one for WIDE tables)."""

    def __init__(
        self,
        features: Sequence[BaseFeature],
        feature_groups: Sequence[Any],
        wide_embedding_dim: int = 4,
        device: torch.device | None = None,
    ) -> None:
        super().__init__()
        by_name = {f.name: f for f in features}
        self.group_names: list[str] = []
        self.group_types: dict[str, int] = {}
        self.group_features: dict[str, list[str]] = {}
        self._dims: dict[str, list[int]] = {}
        deep_sparse: dict[str, BaseFeature] = {}
        wide_sparse: dict[str, BaseFeature] = {}
        for gi, group in enumerate(feature_groups):
            gname, gtype = group.group_name, int(group.group_type)
            if gtype not in (DEEP, WIDE):
                raise ConfigError(f"model_config.feature_groups[{gi}].group_type", "only DEEP and WIDE groups are supported")
            names = list(group.feature_names)
            if not names:
                raise ConfigError(f"model_config.feature_groups[{gi}].feature_names", "a group needs at least one feature")
            dims = []
            for fi, fname in enumerate(names):
                if fname not in by_name:
                    raise ConfigError(
                        f"model_config.feature_groups[{gi}].feature_names[{fi}]",
                        f"no feature named {fname!r}; features: {sorted(by_name)}",
                    )
                f = by_name[fname]
                if gtype == WIDE:
                    if not f.is_sparse:
                        raise ConfigError(
                            f"model_config.feature_groups[{gi}].feature_names[{fi}]",
                            f"WIDE groups take sparse features; {fname!r} is dense",
                        )
                    wide_sparse[fname] = f
                    dims.append(wide_embedding_dim)
                else:
                    if f.is_sparse:
                        deep_sparse[fname] = f
                    dims.append(f.output_dim)
            self.group_names.append(gname)
            self.group_types[gname] = gtype
            self.group_features[gname] = names
            self._dims[gname] = dims
        self.ebc = (
            EmbeddingBagCollection(tables=embedding_bag_configs(list(deep_sparse.values())), device=device)
            if deep_sparse
            else None
        )
        self.wide_ebc = (
            EmbeddingBagCollection(
                tables=embedding_bag_configs(list(wide_sparse.values()), "_wide", wide_embedding_dim), device=device
            )
            if wide_sparse
            else None
        )

    def group_dims(self, group: str) -> list[int]:
        """Width of each feature in `group`, in order."""
        if group not in self._dims:
            raise ConfigError("model_config.feature_groups", f"the model needs a feature group named {group!r}; groups: {self.group_names}")
        return self._dims[group]

    def group_total_dim(self, group: str) -> int:
        """Width of the concatenated `group` tensor."""
        return sum(self.group_dims(group))

    def has_group(self, group: str) -> bool:
        """True when a group of that name is configured."""
        return group in self._dims

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """{group name: [B, group width]} for every configured group."""
        deep: dict[str, torch.Tensor] = {}
        wide: dict[str, torch.Tensor] = {}
        if BASE_DATA_GROUP in batch.sparse_features:
            kjt = batch.sparse_features[BASE_DATA_GROUP]
            if self.ebc is not None:
                deep = self.ebc(kjt).to_dict()
            if self.wide_ebc is not None:
                wide = self.wide_ebc(kjt).to_dict()
        if BASE_DATA_GROUP in batch.dense_features:
            deep.update(batch.dense_features[BASE_DATA_GROUP].to_dict())
        out: dict[str, torch.Tensor] = {}
        for g in self.group_names:
            source = wide if self.group_types[g] == WIDE else deep
            out[g] = torch.cat([source[f] for f in self.group_features[g]], dim=1)
        return out

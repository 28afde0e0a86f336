"""EmbeddingGroup: turns a Batch into one dense tensor per feature group, over TorchRec tables.

DEEP groups concatenate pooled embeddings of sparse features and the values of dense ones;
WIDE groups look every sparse feature up in its own `<embedding_name>_wide` table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    """Pooled feature-group tensors from TorchRec EmbeddingBagCollections.

    `ebc` holds the DEEP tables, `wide_ebc` the WIDE ones; weighted features get their own
    `weighted_ebc` / `weighted_wide_ebc` (None when there are no such features).
    """

    def __init__(
        self,
        features: Sequence[BaseFeature],
        feature_groups: Sequence[Any],
        wide_embedding_dim: int = 4,
        device: torch.device | None = None,
        wide_init_fn: str = "",
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
        # Weighted features pool in their own is_weighted collections: an unweighted collection
        # ignores the KJT's weights, and a weighted one would push weights into mean pooling,
        # which torch's embedding_bag refuses. Unweighted tables keep the names `ebc`/`wide_ebc`.
        deep_plain, deep_weighted = _split_weighted(deep_sparse.values())
        wide_plain, wide_weighted = _split_weighted(wide_sparse.values())
        self.ebc = _collection(deep_plain, False, device)
        self.weighted_ebc = _collection(deep_weighted, True, device)
        self.wide_ebc = _collection(wide_plain, False, device, "_wide", wide_embedding_dim, wide_init_fn)
        self.weighted_wide_ebc = _collection(wide_weighted, True, device, "_wide", wide_embedding_dim, wide_init_fn)
        # where forward finds each (group, feature) value: a collection's name or "dense"
        self._sources: dict[str, list[tuple[str, str]]] = {}
        for g in self.group_names:
            wide = self.group_types[g] == WIDE
            self._sources[g] = [(f, _source(by_name[f], wide)) for f in self.group_features[g]]
        used = {src for sources in self._sources.values() for _, src in sources}
        self._uses_dense = "dense" in used
        self._uses_sparse = bool(used - {"dense"})

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
        # each source's pooled values as one dict; looked up by key, never merged, because
        # under FX tracing these dicts are proxies that cannot be iterated. For the same reason
        # which inputs exist is decided from the config, never by inspecting the batch.
        pooled: dict[str, dict[str, torch.Tensor]] = {}
        if self._uses_sparse:
            kjt = batch.sparse_features[BASE_DATA_GROUP]
            if self.ebc is not None:
                pooled["ebc"] = self.ebc(kjt).to_dict()
            if self.weighted_ebc is not None:
                pooled["weighted_ebc"] = self.weighted_ebc(kjt).to_dict()
            if self.wide_ebc is not None:
                pooled["wide_ebc"] = self.wide_ebc(kjt).to_dict()
            if self.weighted_wide_ebc is not None:
                pooled["weighted_wide_ebc"] = self.weighted_wide_ebc(kjt).to_dict()
        if self._uses_dense:
            pooled["dense"] = batch.dense_features[BASE_DATA_GROUP].to_dict()
        out: dict[str, torch.Tensor] = {}
        for g in self.group_names:
            out[g] = torch.cat([pooled[src][f] for f, src in self._sources[g]], dim=1)
        return out


def _source(f: BaseFeature, wide: bool) -> str:
    if not f.is_sparse:
        return "dense"
    weighted = "weighted_" if getattr(f, "weighted", False) else ""
    return f"{weighted}{'wide_' if wide else ''}ebc"


def _split_weighted(features: Iterable[BaseFeature]) -> tuple[list[BaseFeature], list[BaseFeature]]:
    """(unweighted, weighted) features; a table cannot be shared across the two kinds."""
    plain, weighted = [], []
    for f in features:
        (weighted if getattr(f, "weighted", False) else plain).append(f)
    plain_tables = {f.embedding_name: f.name for f in plain}
    for f in weighted:
        if f.pooling != "sum":
            raise ConfigError(f"feature {f.name!r}.pooling", f"a weighted feature pools by sum, got {f.pooling!r}")
        if f.embedding_name in plain_tables:
            raise ConfigError(
                f"feature {f.name!r}.embedding_name",
                f"weighted feature shares table {f.embedding_name!r} with unweighted "
                f"feature {plain_tables[f.embedding_name]!r}; give them separate tables",
            )
    return plain, weighted


def _collection(
    features: Sequence[BaseFeature],
    weighted: bool,
    device: torch.device | None,
    suffix: str = "",
    dim: int | None = None,
    init_fn: str = "",
) -> EmbeddingBagCollection | None:
    if not features:
        return None
    tables = embedding_bag_configs(list(features), suffix, dim, init_fn)
    return EmbeddingBagCollection(tables=tables, is_weighted=weighted, device=device)

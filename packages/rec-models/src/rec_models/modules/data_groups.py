"""DataGroupEmbedding: an EmbeddingGroup whose features may sit in the sampler's data groups.

With a negative sampler the parser puts item-side features in `__NEG__` / `__CNEG__` (B + N
rows) and the rest in `__BASE__` (B rows). `EmbeddingGroup` reads `__BASE__`; this module
hands it the data groups its feature groups need as if they were `__BASE__`: one group as is,
several merged into one KeyedJaggedTensor / KeyedTensor (B-row groups padded with empty rows
up to B + N), and cuts every feature group's output back to its own rows. What to read is
decided from the features alone, so FX tracing sees no data-dependent branches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torchrec.sparse.jagged_tensor import KeyedJaggedTensor, KeyedTensor

from rec_core.batch import BASE_DATA_GROUP, CROSS_NEG_DATA_GROUP, NEG_DATA_GROUP, Batch
from rec_core.errors import ConfigError
from rec_features.features.base import BaseFeature
from rec_features.sampled import data_group
from rec_models.embedding_group import EmbeddingGroup

_ORDER = (BASE_DATA_GROUP, NEG_DATA_GROUP, CROSS_NEG_DATA_GROUP)


@dataclass
class _Part:
    """What the parser put in one data group (every feature of that group, not just ours)."""

    group: str
    sparse_keys: list[str]
    weighted: bool
    dense_keys: list[str]
    dense_dims: list[int]


def _is_sequence(f: BaseFeature) -> bool:
    return bool(getattr(f, "is_sequence", False))


def _parts(features: Sequence[BaseFeature], groups: set[str]) -> list[_Part]:
    out = []
    for g in _ORDER:
        if g not in groups:
            continue
        # stub features are never emitted, so they hold no place in a group's tensors
        mine = [f for f in features if data_group(f) == g and not getattr(f, "stub_type", False)]
        sparse = [f for f in mine if f.is_sparse]
        dense = [f for f in mine if not f.is_sparse]
        out.append(
            _Part(
                g,
                [f.name for f in sparse],
                any(getattr(f, "weighted", False) for f in sparse),
                [f.name for f in dense],
                [f.value_dim for f in dense],
            )
        )
    return out


def group_rows(group: Any, by_name: dict[str, BaseFeature], where: str) -> str:
    """`__BASE__` when a feature group has B rows, `__NEG__` when it has B + N (sampled items).

    A group mixing the two is a ConfigError naming its `__BASE__` features.
    """
    kinds = {data_group(by_name[n]) for n in group.feature_names}
    if BASE_DATA_GROUP in kinds and len(kinds) > 1:
        base = [n for n in group.feature_names if data_group(by_name[n]) == BASE_DATA_GROUP]
        raise ConfigError(
            f"{where}[{group.group_name!r}]",
            f"mixes sampled item features with {base}, which do not read the sampler's attr_fields "
            "(sampled rows would have no value for them); add their inputs to attr_fields or move them",
        )
    return NEG_DATA_GROUP if kinds and BASE_DATA_GROUP not in kinds else BASE_DATA_GROUP


class DataGroupEmbedding(nn.Module):
    """{feature group: [rows, width]}; a group of `__BASE__` features has B rows, one of sampled features B + N."""

    def __init__(
        self,
        features: Sequence[BaseFeature],
        feature_groups: Sequence[Any],
        device: torch.device | None = None,
        where: str = "model_config.feature_groups",
    ) -> None:
        super().__init__()
        self.embedding_group = EmbeddingGroup(features, list(feature_groups), device=device)
        by_name = {f.name: f for f in features}
        self.group_names = list(self.embedding_group.group_names)
        # feature group -> data group its rows come from
        self.rows_of: dict[str, str] = {}
        used: set[str] = set()
        mine = []
        for group in feature_groups:
            rows = group_rows(group, by_name, where)
            self.rows_of[group.group_name] = rows
            for nested in group.sequence_groups:
                if group_rows(nested, by_name, where) != rows:
                    raise ConfigError(f"{where}[{group.group_name!r}]", "its sequence groups and features must come from the same rows")
                self.rows_of[nested.group_name or group.group_name] = rows
            names = list(group.feature_names) + [n for nested in group.sequence_groups for n in nested.feature_names]
            used |= {data_group(by_name[n]) for n in names}
            mine += [by_name[n] for n in names]
        self._parts = _parts(features, used)
        # which of a data group's KJT / KeyedTensor these feature groups read at all
        self._need_sparse = {g: any(f.is_sparse and data_group(f) == g for f in mine) for g in used}
        self._need_dense = {g: any(not f.is_sparse and data_group(f) == g for f in mine) for g in used}
        self.padded = len(self._parts) > 1 and self._parts[0].group == BASE_DATA_GROUP
        # multi-value element counts travel in sequence_mulval_lengths[group], raw sequences by name
        multi_value = {data_group(f) for f in mine if _is_sequence(f) and f.is_sparse and int(getattr(f, "value_dim", 1)) != 1}
        raw_sequence = any(_is_sequence(f) and not f.is_sparse for f in mine)
        if len(self._parts) > 1 and (multi_value or raw_sequence):
            raise ConfigError(
                where,
                "feature groups over several data groups take sequence id features only, "
                "not multi-value or raw sequences",
            )
        self._mulval_group = next(iter(multi_value), "")

    def group_total_dim(self, group: str) -> int:
        """Width of a feature group's tensor."""
        return self.embedding_group.group_total_dim(group)

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Every configured feature group, each with the rows of its data group."""
        if len(self._parts) == 1 and self._parts[0].group == BASE_DATA_GROUP:
            return self.embedding_group(batch)
        view = Batch()
        sparse = [p for p in self._parts if self._need_sparse[p.group]]
        dense = [p for p in self._parts if self._need_dense[p.group]]
        # B + N: the rows of any sampled group (all of them have as many)
        full_rows = self._rows(batch, self._parts[-1])
        if sparse:
            view.sparse_features[BASE_DATA_GROUP] = self._merge_sparse(batch, sparse, full_rows)
        if dense:
            view.dense_features[BASE_DATA_GROUP] = self._merge_dense(batch, dense, full_rows)
        if self._mulval_group:
            view.sequence_mulval_lengths[BASE_DATA_GROUP] = batch.sequence_mulval_lengths[self._mulval_group]
        view.sequence_dense_features = batch.sequence_dense_features
        out = self.embedding_group(view)
        if not self.padded:
            return out
        base_rows = self._rows(batch, self._parts[0])
        # keys are groups, or `<sequence group>.query/.sequence/.sequence_length`
        return {k: v[:base_rows] if self.rows_of[k.split(".")[0]] == BASE_DATA_GROUP else v for k, v in out.items()}

    def _rows(self, batch: Batch, part: _Part) -> Any:
        if self._need_sparse[part.group]:
            return batch.sparse_features[part.group].lengths().numel() // len(part.sparse_keys)
        return batch.dense_features[part.group].values().size(0)

    def _merge_sparse(self, batch: Batch, parts: list[_Part], full_rows: Any) -> KeyedJaggedTensor:
        if len(parts) == 1:
            return batch.sparse_features[parts[0].group]
        weighted = any(p.weighted for p in parts)
        keys, values, lengths, weights = [], [], [], []
        for p in parts:
            kjt = batch.sparse_features[p.group]
            keys.extend(p.sparse_keys)
            values.append(kjt.values())
            length = kjt.lengths()
            if p.group == BASE_DATA_GROUP and self.padded:
                rows = length.numel() // len(p.sparse_keys)
                length = F.pad(length.view(len(p.sparse_keys), -1), (0, full_rows - rows)).flatten()
            lengths.append(length)
            if weighted:
                weights.append(kjt.weights() if p.weighted else torch.ones_like(kjt.values(), dtype=torch.float32))
        return KeyedJaggedTensor(
            keys=keys,
            values=torch.cat(values),
            lengths=torch.cat(lengths),
            weights=torch.cat(weights) if weighted else None,
        )

    def _merge_dense(self, batch: Batch, parts: list[_Part], full_rows: Any) -> KeyedTensor:
        if len(parts) == 1:
            return batch.dense_features[parts[0].group]
        keys, dims, values = [], [], []
        for p in parts:
            v = batch.dense_features[p.group].values()
            if p.group == BASE_DATA_GROUP and self.padded:
                v = F.pad(v, (0, 0, 0, full_rows - v.size(0)))
            keys.extend(p.dense_keys)
            dims.extend(p.dense_dims)
            values.append(v)
        return KeyedTensor(keys=keys, length_per_key=dims, values=torch.cat(values, dim=1))

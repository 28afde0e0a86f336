"""EmbeddingGroup: turns a Batch into the tensors of each feature group, over TorchRec tables.

- DEEP: the group's pooled sparse embeddings and dense values, concatenated, then the outputs
  of its `sequence_encoders` over its nested `sequence_groups`; [B, width].
- WIDE: every sparse feature looked up in its own `<embedding_name>_wide` table.
- SEQUENCE (and each nested sequence group): `<g>.query` [B, Dq] (its non-sequence features,
  pooled), `<g>.sequence` [B, T, Ds] (its sequence features side by side, zero padded to the
  batch's longest row, at most the features' sequence_length) and `<g>.sequence_length` [B].
- JAGGED_SEQUENCE: the same keys, with `<g>.sequence` as the [sum(lengths), Ds] jagged values,
  and `<g>.sequence_steps`, an empty [0, T] tensor whose width is the batch's longest row
  (`jagged.longest_row_carrier`: how that length reaches a compiled dense part).

One table per embedding name (plus `_wide` / `_<embedding_name_suffix>`). A table that a
sequence group reads lives in an EmbeddingCollection (unpooled rows; one collection per
embedding width), and pooled features sharing it pool its rows themselves, so a query
feature and the sequence of the same items share one table. Other tables stay in
EmbeddingBagCollections.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn
from torchrec.modules.embedding_configs import EmbeddingBagConfig, EmbeddingConfig
from torchrec.modules.embedding_modules import (
    EmbeddingBagCollection,
    EmbeddingCollection,
    get_embedding_names_by_table,
)
from torchrec.modules.mc_embedding_modules import ManagedCollisionEmbeddingBagCollection, ManagedCollisionEmbeddingCollection
from torchrec.modules.mc_modules import ManagedCollisionCollection
from torchrec.sparse.jagged_tensor import JaggedTensor

from rec_core.batch import BASE_DATA_GROUP, Batch
from rec_core.errors import ConfigError
from rec_features.embedding import embedding_bag_configs, embedding_configs
from rec_features.features.base import BaseFeature
from rec_features.zch import is_zch, managed_collision_modules
from rec_models.modules import jagged
from rec_models.modules.sequence import SequenceEncoder, create_sequence_encoder, encoder_config

DEEP, WIDE, SEQUENCE, JAGGED_SEQUENCE = 0, 1, 2, 3
# tables of zch features live in their own (managed-collision) collections, prefixed "mc_"
_BAGS = tuple(f"{mc}{w}{wide}ebc" for mc in ("", "mc_") for wide in ("", "wide_") for w in ("", "weighted_"))


def _weighted(f: BaseFeature) -> bool:
    return bool(getattr(f, "weighted", False))


class _Source(NamedTuple):
    """Where one feature's tensor comes from: kind, module (collection) and key in its output."""

    kind: str  # "bag" (pooled by a bag collection) | "rows" (EmbeddingCollection) | "dense" | "seq_dense"
    module: str = ""
    key: str = ""
    mean: bool = False  # rows pooled by mean (else sum)
    mulval: str = ""  # multi-value sequence: the feature whose element id counts group the rows


@dataclass
class _Use:
    """One feature read by one group from table `table`."""

    feature: BaseFeature
    table: str
    suffix: str  # what the table name adds to the feature's embedding_name
    wide: bool
    unpooled: bool  # read by a sequence group


@dataclass
class _SequenceGroup:
    name: str
    jagged: bool
    cap: int  # padded groups keep at most this many positions (0: no limit)
    query: list[BaseFeature]
    sequence: list[BaseFeature]


class EmbeddingGroup(nn.Module):
    """Feature-group tensors from TorchRec EmbeddingBagCollections and EmbeddingCollections.

    `ebc` holds the pooled DEEP tables, `wide_ebc` the WIDE ones; weighted features get their
    own `weighted_ebc` / `weighted_wide_ebc`; `ecs[str(dim)]` holds the unpooled tables of
    width dim (each collection is None / ecs is empty when unused). Tables of zch features sit
    in the same collections prefixed `mc_` (`mc_ebc`, ..., `ecs["mc_<dim>"]`): TorchRec
    managed-collision collections that remap raw ids to rows before the lookup.
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
        self._by_name = {f.name: f for f in features}
        self.group_names: list[str] = []
        self.group_types: dict[str, int] = {}
        self.group_features: dict[str, list[str]] = {}
        self._dims: dict[str, list[int]] = {}
        # (group, feature, read by a sequence group): a single unnamed nested sequence group
        # shares its DEEP group's name, and each may name the same feature
        self._uses: dict[tuple[str, str, bool], _Use] = {}
        self._pooled_groups: dict[str, list[str]] = {}
        self._sequence_groups: list[_SequenceGroup] = []
        encoder_configs: dict[str, list[tuple[Any, str, str]]] = {}
        taken: set[str] = set()
        for gi, group in enumerate(feature_groups):
            where = f"model_config.feature_groups[{gi}]"
            gname, gtype = group.group_name, int(group.group_type)
            if gtype not in (DEEP, WIDE, SEQUENCE, JAGGED_SEQUENCE):
                raise ConfigError(f"{where}.group_type", f"unknown group type {gtype}")
            if gname in taken:
                raise ConfigError(f"{where}.group_name", f"group name {gname!r} is used twice")
            taken.add(gname)
            # a DEEP group may hold nothing but its sequence encoders
            names = self._feature_names(group, where, allow_empty=bool(group.sequence_groups))
            self.group_names.append(gname)
            self.group_types[gname] = gtype
            self.group_features[gname] = names
            suffix = group.embedding_name_suffix
            if gtype in (SEQUENCE, JAGGED_SEQUENCE):
                if group.sequence_groups or group.sequence_encoders:
                    raise ConfigError(f"{where}.sequence_groups", "sequence_groups and sequence_encoders belong to DEEP groups")
                self._add_sequence_group(gname, names, gtype == JAGGED_SEQUENCE, suffix, where)
                continue
            self._add_pooled_group(gname, names, gtype == WIDE, suffix, wide_embedding_dim, where)
            if gtype == WIDE and (group.sequence_groups or group.sequence_encoders):
                raise ConfigError(f"{where}.sequence_groups", "sequence_groups and sequence_encoders belong to DEEP groups")
            for sname, sgroup, swhere in _nested_groups(group, where):
                if sname != gname and sname in taken:
                    raise ConfigError(f"{swhere}.group_name", f"group name {sname!r} is used twice")
                taken.add(sname)
                self._add_sequence_group(
                    sname, self._feature_names(sgroup, swhere), False, sgroup.embedding_name_suffix or suffix, swhere
                )
            encoder_configs[gname] = _encoder_inputs(group, where)

        self._build_tables(wide_embedding_dim, wide_init_fn, device)
        self.sequence_encoders = nn.ModuleDict()
        for gname, configs in encoder_configs.items():
            encoders = nn.ModuleList(
                create_sequence_encoder(
                    cfg, input_name, self.group_total_dim(f"{input_name}.query"), self.group_total_dim(f"{input_name}.sequence"), ewhere
                )
                for cfg, input_name, ewhere in configs
            )
            if len(encoders):
                self.sequence_encoders[gname] = encoders
                self._dims[gname] = self._dims[gname] + [e.output_dim for e in encoders]
        for sg in self._sequence_groups:
            if sg.name not in self._dims:
                self._dims[sg.name] = self._dims[f"{sg.name}.query"] + self._dims[f"{sg.name}.sequence"]
        self._resolve_sources()

    # ---- configuration -------------------------------------------------------------------

    def _feature_names(self, group: Any, where: str, allow_empty: bool = False) -> list[str]:
        names = list(group.feature_names)
        if not names and not allow_empty:
            raise ConfigError(f"{where}.feature_names", "a group needs at least one feature")
        for fi, fname in enumerate(names):
            if fname not in self._by_name:
                raise ConfigError(
                    f"{where}.feature_names[{fi}]", f"no feature named {fname!r}; features: {sorted(self._by_name)}"
                )
        return names

    def _use(self, group: str, f: BaseFeature, suffix: str, wide: bool, unpooled: bool) -> None:
        table_suffix = ("_wide" if wide else "") + (f"_{suffix}" if suffix else "")
        self._uses[(group, f.name, unpooled)] = _Use(f, f"{f.embedding_name}{table_suffix}", table_suffix, wide, unpooled)

    def _add_pooled_group(self, gname: str, names: list[str], wide: bool, suffix: str, wide_dim: int, where: str) -> None:
        dims = []
        for fi, fname in enumerate(names):
            f = self._by_name[fname]
            if wide and not f.is_sparse:
                raise ConfigError(f"{where}.feature_names[{fi}]", f"WIDE groups take sparse features; {fname!r} is dense")
            if f.is_sequence and not f.is_sparse:
                raise ConfigError(
                    f"{where}.feature_names[{fi}]",
                    f"{fname!r} is a dense sequence; put it in a SEQUENCE group or in this group's sequence_groups",
                )
            if f.is_sparse:
                self._use(gname, f, suffix, wide, False)
            dims.append(wide_dim if wide else f.output_dim)
        self._pooled_groups[gname] = names
        self._dims[gname] = dims

    def _add_sequence_group(self, gname: str, names: list[str], is_jagged: bool, suffix: str, where: str) -> None:
        query: list[BaseFeature] = []
        sequence: list[BaseFeature] = []
        for fi, fname in enumerate(names):
            f = self._by_name[fname]
            if _weighted(f):
                raise ConfigError(f"{where}.feature_names[{fi}]", f"weighted feature {fname!r} cannot be in a sequence group")
            if f.is_sparse:
                self._use(gname, f, suffix, False, True)
            (sequence if f.is_sequence else query).append(f)
        if not sequence:
            raise ConfigError(f"{where}.feature_names", f"sequence group {gname!r} has no sequence feature")
        cap = sequence[0].sequence_length
        self._sequence_groups.append(_SequenceGroup(gname, is_jagged, cap, query, sequence))
        self._dims[f"{gname}.query"] = [f.output_dim for f in query]
        self._dims[f"{gname}.sequence"] = [f.output_dim for f in sequence]

    def _build_tables(self, wide_dim: int, wide_init_fn: str, device: torch.device | None) -> None:
        uses = list(self._uses.values())
        unpooled_tables = {u.table for u in uses if u.unpooled}
        bags: dict[str, list[_Use]] = defaultdict(list)
        unpooled: list[_Use] = []
        for u in uses:
            if u.table not in unpooled_tables:
                bags[_bag_name(u)].append(u)
                continue
            if _weighted(u.feature):
                raise ConfigError(
                    f"feature {u.feature.name!r}.embedding_name",
                    f"weighted feature shares table {u.table!r} with a sequence group; give it its own table",
                )
            unpooled.append(u)
        for wide in (False, True):
            _split_weighted({u.feature.name: u.feature for u in uses if u.wide == wide and u.table not in unpooled_tables}.values())
        owner: dict[str, str] = {}
        self._keys: dict[tuple[str, str], tuple[str, str]] = {}  # (feature, table) -> (module, output key)
        for name in _BAGS:
            tables = _configs(bags.get(name, []), embedding_bag_configs, wide_dim, wide_init_fn)
            collection: nn.Module | None = None
            if tables:
                collection = EmbeddingBagCollection(tables=tables, is_weighted="weighted_" in name, device=device)
                if name.startswith("mc_"):
                    collection = ManagedCollisionEmbeddingBagCollection(collection, _collision_collection(bags[name], tables, device))
            setattr(self, name, collection)
            self._register_keys(name, tables, owner)
        # EmbeddingCollection tables of one collection share a width (and zch or not)
        by_width: dict[str, list[EmbeddingConfig]] = defaultdict(list)
        zch_tables = {u.table for u in unpooled if is_zch(u.feature)}
        for table in _configs(unpooled, embedding_configs, wide_dim, wide_init_fn):
            by_width[f"{'mc_' if table.name in zch_tables else ''}{table.embedding_dim}"].append(table)
        self.ecs = nn.ModuleDict()
        for key in sorted(by_width):
            tables = by_width[key]
            ec: nn.Module = EmbeddingCollection(tables=tables, device=device)
            if key.startswith("mc_"):
                ec = ManagedCollisionEmbeddingCollection(ec, _collision_collection(unpooled, tables, device))
            self.ecs[key] = ec
            self._register_keys(key, tables, owner)

    def _register_keys(self, module: str, tables: Sequence[EmbeddingBagConfig | EmbeddingConfig], owner: dict[str, str]) -> None:
        for table, keys in zip(tables, get_embedding_names_by_table(list(tables))):
            if table.name in owner:
                raise ConfigError(
                    "model_config.feature_groups",
                    f"table name {table.name!r} arises twice (an embedding_name plus a suffix equals another "
                    f"embedding_name); rename one of the features' embedding_name",
                )
            owner[table.name] = module
            for feature, key in zip(table.feature_names, keys):
                self._keys[(feature, table.name)] = (module, key)

    def _resolve_sources(self) -> None:
        def source(group: str, f: BaseFeature, in_sequence_group: bool = False) -> _Source:
            if not f.is_sparse:
                return _Source("seq_dense" if f.is_sequence else "dense", key=f.name)
            use = self._uses[(group, f.name, in_sequence_group)]
            module, key = self._keys[(f.name, use.table)]
            if module in _BAGS:
                return _Source("bag", module, key)
            return _Source("rows", module, key, f.pooling == "mean", f.name if f.is_multi_value_sequence else "")

        self._sources = {g: [source(g, self._by_name[n]) for n in names] for g, names in self._pooled_groups.items()}
        self._sequence_sources = [
            (sg, [source(sg.name, f, True) for f in sg.query], [source(sg.name, f, True) for f in sg.sequence])
            for sg in self._sequence_groups
        ]
        self._runs = {g: _runs(sources) for g, sources in self._sources.items()}
        kinds = {s.kind for sources in self._sources.values() for s in sources}
        for _, query, sequence in self._sequence_sources:
            kinds |= {s.kind for s in query + sequence}
        self._uses_dense = "dense" in kinds
        self._uses_sparse = bool(kinds & {"bag", "rows"})
        self._uses_mulval = any(s.mulval for _, _, sequence in self._sequence_sources for s in sequence)
        self._ec_keys = list(self.ecs.keys())

    # ---- public API ----------------------------------------------------------------------

    def group_dims(self, group: str) -> list[int]:
        """Width of each feature in `group` (then each sequence encoder's); `<g>.query` / `<g>.sequence` for sequence groups."""
        if group not in self._dims:
            raise ConfigError("model_config.feature_groups", f"the model needs a feature group named {group!r}; groups: {self.group_names}")
        return self._dims[group]

    def group_total_dim(self, group: str) -> int:
        """Width of the concatenated `group` tensor (last dim for `<g>.sequence`)."""
        return sum(self.group_dims(group))

    def has_group(self, group: str) -> bool:
        """True when a group (or `<g>.query` / `<g>.sequence` of a sequence group) of that name is configured."""
        return group in self._dims

    def is_sequence_group(self, group: str) -> bool:
        """True for SEQUENCE / JAGGED_SEQUENCE groups and the sequence groups nested in DEEP groups."""
        return any(sg.name == group for sg in self._sequence_groups)

    # ---- forward -------------------------------------------------------------------------

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """{group: [B, width]} for DEEP/WIDE groups; `<g>.query`, `<g>.sequence`, `<g>.sequence_length` for sequence groups."""
        # each collection's output is kept as its own dict and read by key, never merged or
        # iterated: under FX tracing these dicts are proxies. For the same reason which inputs
        # exist is decided from the config, never by inspecting the batch.
        pooled: dict[str, dict[str, torch.Tensor]] = {}
        rows: dict[str, dict[str, JaggedTensor]] = {}
        if self._uses_sparse:
            kjt = batch.sparse_features[BASE_DATA_GROUP]
            for name in _BAGS:
                collection = getattr(self, name)
                if collection is not None:
                    # managed-collision collections return (embeddings, remapped ids or None)
                    pooled[name] = (collection(kjt)[0] if name.startswith("mc_") else collection(kjt)).to_dict()
            for key in self._ec_keys:
                rows[key] = self.ecs[key](kjt)[0] if key.startswith("mc_") else self.ecs[key](kjt)
        if self._uses_dense:
            pooled["dense"] = batch.dense_features[BASE_DATA_GROUP].to_dict()
        mulval: dict[str, JaggedTensor] = {}
        if self._uses_mulval:
            mulval = batch.sequence_mulval_lengths[BASE_DATA_GROUP].to_dict()
        cache: dict[_Source, torch.Tensor] = {}

        def vector(src: _Source) -> torch.Tensor:
            """[B, width] of one feature: a pooled bag, pooled rows, or dense values."""
            if src.kind == "rows":
                if src not in cache:
                    jt = rows[src.module][src.key]
                    cache[src] = jagged.pool(jt.values(), jt.lengths(), src.mean)
                return cache[src]
            return pooled[src.module or "dense"][src.key]

        def elements(src: _Source) -> tuple[torch.Tensor, torch.Tensor]:
            """(values [elements, width], elements per row) of one sequence feature."""
            if src.kind == "seq_dense":
                jt = batch.sequence_dense_features[src.key]
                return jt.values(), jt.lengths()
            jt = rows[src.module][src.key]
            if src.mulval:
                counts = mulval[src.mulval]
                return jagged.pool(jt.values(), counts.values(), src.mean), counts.lengths()
            return jt.values(), jt.lengths()

        out: dict[str, torch.Tensor] = {}
        for sg, query, sequence in self._sequence_sources:
            if query:
                out[f"{sg.name}.query"] = torch.cat([vector(s) for s in query], dim=1)
            parts = [elements(s) for s in sequence]
            lengths = parts[0][1]
            if sg.jagged:
                out[f"{sg.name}.sequence"] = torch.cat([v for v, _ in parts], dim=1)
                out[f"{sg.name}.sequence_steps"] = jagged.longest_row_carrier(lengths)
            else:
                steps = jagged.padded_length(lengths, sg.cap)
                out[f"{sg.name}.sequence"] = torch.cat([jagged.to_padded(v, n, steps) for v, n in parts], dim=2)
                if sg.cap > 0:
                    lengths = lengths.clamp(max=sg.cap)
            out[f"{sg.name}.sequence_length"] = lengths
        # a run of one collection's features read by several groups (DeepFM's fm and deep) is
        # concatenated once: backward then adds one gradient per run, not one per feature
        joined: dict[tuple[_Source, ...], torch.Tensor] = {}
        for g, runs in self._runs.items():
            tensors = []
            for run in runs:
                if run not in joined:
                    joined[run] = vector(run[0]) if len(run) == 1 else torch.cat([vector(s) for s in run], dim=1)
                tensors.append(joined[run])
            if g in self.sequence_encoders:
                encoders: Iterable[SequenceEncoder] = self.sequence_encoders[g]  # type: ignore[assignment]
                tensors += [encoder(out) for encoder in encoders]
            out[g] = tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim=1)
        return out


def _runs(sources: Sequence[_Source]) -> list[tuple[_Source, ...]]:
    """`sources` cut into maximal runs of consecutive features from the same collection (or dense)."""
    runs: list[list[_Source]] = []
    for src in sources:
        if runs and src.kind in ("bag", "dense") and (runs[-1][-1].kind, runs[-1][-1].module) == (src.kind, src.module):
            runs[-1].append(src)
        else:
            runs.append([src])
    return [tuple(r) for r in runs]


def _nested_groups(group: Any, where: str) -> list[tuple[str, Any, str]]:
    """(name, SeqGroupConfig, path) of a DEEP group's sequence_groups; a single unnamed one takes the group's name."""
    nested = list(group.sequence_groups)
    if bool(nested) != bool(group.sequence_encoders):
        missing = "sequence_encoders" if nested else "sequence_groups"
        raise ConfigError(f"{where}.{missing}", "sequence_groups and sequence_encoders must be configured together")
    out = []
    for si, sg in enumerate(nested):
        swhere = f"{where}.sequence_groups[{si}]"
        if not sg.group_name and len(nested) > 1:
            raise ConfigError(f"{swhere}.group_name", "with several sequence_groups each needs a group_name")
        out.append((sg.group_name or group.group_name, sg, swhere))
    return out


def _encoder_inputs(group: Any, where: str) -> list[tuple[Any, str, str]]:
    """(SeqEncoderConfig, input group, path) per encoder; an encoder without input reads the only sequence group."""
    names = [n for n, _, _ in _nested_groups(group, where)]
    out = []
    for ei, cfg in enumerate(group.sequence_encoders):
        ewhere = f"{where}.sequence_encoders[{ei}]"
        kind, inner = encoder_config(cfg, ewhere)
        input_name = inner.input or (names[0] if len(names) == 1 else "")
        if input_name not in names:
            raise ConfigError(f"{ewhere}.{kind}.input", f"{inner.input!r} is not one of this group's sequence_groups {names}")
        out.append((cfg, input_name, ewhere))
    unread = sorted(set(names) - {name for _, name, _ in out})
    if unread:
        raise ConfigError(f"{where}.sequence_encoders", f"sequence group(s) {unread} have no encoder")
    return out


def _bag_name(u: _Use) -> str:
    return f"{'mc_' if is_zch(u.feature) else ''}{'weighted_' if _weighted(u.feature) else ''}{'wide_' if u.wide else ''}ebc"


def _collision_collection(uses: Sequence[_Use], tables: Sequence[Any], device: torch.device | None) -> ManagedCollisionCollection:
    """The managed-collision modules of `tables` (zch tables), in the tables' order as TorchRec pairs them."""
    modules = {}
    for suffix, feats in _by_suffix(uses).items():
        modules.update(managed_collision_modules(feats, device, suffix))
    return ManagedCollisionCollection({t.name: modules[t.name] for t in tables}, tables)


def _configs(uses: Sequence[_Use], build: Callable[..., list[Any]], wide_dim: int, wide_init_fn: str) -> list[Any]:
    """Table configs of the features in `uses`: one `build` call (rec_features.embedding) per table-name suffix."""
    tables: list[Any] = []
    for suffix, feats in _by_suffix(uses).items():
        wide = suffix.startswith("_wide")
        tables += build(feats, suffix, wide_dim if wide else None, wide_init_fn if wide else None)
    return tables


def _by_suffix(uses: Sequence[_Use]) -> dict[str, list[BaseFeature]]:
    """The distinct features of `uses` by the suffix their table name adds, in first-use order."""
    by_suffix: dict[str, dict[str, BaseFeature]] = defaultdict(dict)
    for u in uses:
        by_suffix[u.suffix][u.feature.name] = u.feature
    return {suffix: list(feats.values()) for suffix, feats in by_suffix.items()}


def _split_weighted(features: Iterable[BaseFeature]) -> None:
    """Weighted features pool by sum and never share a table with unweighted ones."""
    features = list(features)
    plain_tables = {f.embedding_name: f.name for f in features if not _weighted(f)}
    for f in features:
        if not _weighted(f):
            continue
        if f.pooling != "sum":
            raise ConfigError(f"feature {f.name!r}.pooling", f"a weighted feature pools by sum, got {f.pooling!r}")
        if f.embedding_name in plain_tables:
            raise ConfigError(
                f"feature {f.name!r}.embedding_name",
                f"weighted feature shares table {f.embedding_name!r} with unweighted "
                f"feature {plain_tables[f.embedding_name]!r}; give them separate tables",
            )

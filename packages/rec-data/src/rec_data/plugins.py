"""Readers, writers and samplers by name, through the `rec.readers` / `rec.writers` / `rec.samplers` registries.

Built-ins register through the same entry-point groups as third-party packages (see
rec-data's pyproject.toml). When rec-data runs from a source tree whose entry points are
not installed, the built-ins are still found by name.
"""

from __future__ import annotations

import posixpath
from typing import Any

from rec_core.errors import ConfigError, DataError, PluginError
from rec_core.registry import registry

from rec_data.options import dataset_type_name
from rec_data.paths import expand_input_path, split_path_list

READERS = "rec.readers"
WRITERS = "rec.writers"
SAMPLERS = "rec.samplers"

# DatasetType → reader name, for inputs whose file names do not pick a reader.
DATASET_READERS = {"ParquetDataset": "ParquetReader", "CsvDataset": "CsvReader"}

_BUILTIN = {
    READERS: {
        "ParquetReader": "rec_data.readers.parquet:ParquetReader",
        "CsvReader": "rec_data.readers.csv:CsvReader",
        "ArrowReader": "rec_data.readers.arrow:ArrowReader",
    },
    WRITERS: {
        "ParquetWriter": "rec_data.writers:ParquetWriter",
        "CsvWriter": "rec_data.writers:CsvWriter",
        "ArrowWriter": "rec_data.writers:ArrowWriter",
    },
    SAMPLERS: {
        "negative_sampler": "rec_data.samplers.negative:NegativeSampler",
        "negative_sampler_v2": "rec_data.samplers.negative:NegativeSamplerV2",
        "hard_negative_sampler": "rec_data.samplers.hard_negative:HardNegativeSampler",
        "hard_negative_sampler_v2": "rec_data.samplers.hard_negative:HardNegativeSamplerV2",
        "tdm_sampler": "rec_data.samplers.tdm:TDMSampler",
    },
}


def _import(path: str) -> Any:
    import importlib

    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def names(group: str) -> list[str]:
    """Every plugin name of `group`: installed entry points plus the built-ins."""
    return sorted(set(registry(group).names()) | set(_BUILTIN[group]))


def get(group: str, name: str) -> Any:
    """The plugin `name` of `group`; an unknown name is a PluginError listing what is installed."""
    reg = registry(group)
    if name in reg.names():
        return reg.get(name)
    if name in _BUILTIN[group]:
        return _import(_BUILTIN[group][name])
    installed = ", ".join(names(group)) or "(none)"
    raise PluginError(f"unknown {group} plugin {name!r}; installed: {installed}")


def load_all(group: str) -> dict[str, Any]:
    """name → class for every importable plugin of `group` (broken plugins are logged and skipped)."""
    found = {n: _import(p) for n, p in _BUILTIN[group].items()}
    found.update(registry(group).load_all())
    return found


def _by_kind(group: str, kind: str) -> Any | None:
    """The plugin whose `kind` attribute (e.g. "parquet") is `kind`, if exactly one has it."""
    matches = {n: c for n, c in load_all(group).items() if getattr(c, "kind", None) == kind}
    if len(matches) > 1:
        raise PluginError(f"{group}: several plugins have kind {kind!r}: {', '.join(sorted(matches))}; use a name")
    return next(iter(matches.values()), None)


def resolve(group: str, name_or_kind: str) -> Any:
    """A plugin by registry name ("ParquetWriter") or by kind ("parquet")."""
    if name_or_kind in names(group):
        return get(group, name_or_kind)
    found = _by_kind(group, name_or_kind)
    if found is not None:
        return found
    kinds = sorted({getattr(c, "kind", "") for c in load_all(group).values()} - {""})
    raise PluginError(
        f"unknown {group} plugin {name_or_kind!r}; installed: {', '.join(names(group))} "
        f"(kinds: {', '.join(kinds)})"
    )


def extension_map(group: str = READERS) -> dict[str, str]:
    """File ending → plugin name, from each plugin's `extensions`; one ending claimed twice is an error."""
    claims: dict[str, str] = {}
    for name, cls in sorted(load_all(group).items()):
        for ext in getattr(cls, "extensions", ()) or ():
            ext = ext.lower()
            if ext in claims and claims[ext] != name:
                raise PluginError(
                    f"{group}: file ending {ext!r} is claimed by both {claims[ext]} and {name}"
                )
            claims[ext] = name
    return claims


def _claimed(path: str, claims: dict[str, str]) -> str | None:
    base = posixpath.basename(path.rstrip("/")).lower()
    # Longest ending first, so ".tar.gz"-style endings beat their tails.
    for ext in sorted(claims, key=len, reverse=True):
        if base.endswith(ext):
            return claims[ext]
    return None


def reader_name_for(data_config: Any, input_path: str) -> str:
    """The reader for `input_path`, chosen in this order:

    1. every entry of the path list ends in a file ending one reader claims (`train.jsonl`,
       `data/*.arrow`): that reader;
    2. data_config.dataset_type: ParquetDataset → ParquetReader, CsvDataset → CsvReader;
    3. without a data_config (e.g. `rec-data inspect`): the ending of the files the path
       expands to, else ParquetReader.

    A dataset_type rec-data has no reader for (OdpsDataset, KafkaDataset) is a ConfigError
    unless step 1 picks a reader.
    """
    claims = extension_map(READERS)
    picked = {_claimed(e, claims) for e in split_path_list(input_path)}
    known = picked - {None}
    if len(known) > 1:
        raise DataError(
            f"input {input_path!r} mixes files of different readers ({', '.join(sorted(known))}); "  # type: ignore[arg-type]
            "read them as separate inputs"
        )
    if known and None not in picked:
        return known.pop()  # type: ignore[return-value]
    if data_config is None:
        found = {_claimed(f, claims) for f in expand_input_path(input_path)} - {None}
        return found.pop() if len(found) == 1 else "ParquetReader"  # type: ignore[return-value]
    dataset_type = dataset_type_name(data_config)
    if dataset_type in DATASET_READERS:
        return DATASET_READERS[dataset_type]
    endings = ", ".join(f"{e} ({n})" for e, n in sorted(claims.items()))
    raise ConfigError(
        "data_config.dataset_type",
        f"{dataset_type} is not supported by rec-data; use ParquetDataset or CsvDataset, "
        f"or name files with an ending a reader claims: {endings}",
    )

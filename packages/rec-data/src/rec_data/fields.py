"""Column schemas declared in a DataConfig: FieldType names, `input_fields_str` parsing, Arrow types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from rec_core.errors import ConfigError
from rec_core.protos import data_pb2

_SCALARS = ("INT32", "INT64", "STRING", "FLOAT", "DOUBLE")
_MAP_KEYS = ("STRING", "INT64", "INT32")

FIELD_TYPE_NAMES: tuple[str, ...] = tuple(data_pb2.FieldType.keys())

# ODPS spellings accepted in input_fields_str, besides the FieldType names themselves.
_ALIASES = {"BIGINT": "INT64", "INT": "INT32"}

_ARROW_SCALARS = {
    "INT32": pa.int32(),
    "INT64": pa.int64(),
    "STRING": pa.string(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
}


def field_type_name(value: int | str) -> str:
    """The FieldType name for an enum number or a name."""
    if isinstance(value, str) and value in FIELD_TYPE_NAMES:
        return value
    try:
        return data_pb2.FieldType.Name(value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as e:
        raise ConfigError("data_config.input_fields", f"unknown field type {value!r}") from e


def _split_top_level(text: str) -> list[str]:
    # Split "K,V" inside MAP<...> on the comma that is not nested in another <...>.
    depth, parts, start = 0, [], 0
    for i, c in enumerate(text):
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _parse_type(text: str) -> str | None:
    t = _ALIASES.get(text, text)
    if t in FIELD_TYPE_NAMES:
        return t
    m = re.fullmatch(r"ARRAY<(.*)>", t)
    if m:
        inner = _parse_type(m.group(1))
        return f"ARRAY_{inner}" if inner and not inner.startswith("MAP_") else None
    m = re.fullmatch(r"MAP<(.*)>", t)
    if m:
        kv = _split_top_level(m.group(1))
        if len(kv) != 2:
            return None
        k, v = _parse_type(kv[0]), _parse_type(kv[1])
        return f"MAP_{k}_{v}" if k in _MAP_KEYS and v in _SCALARS else None
    return None


def parse_type_name(text: str) -> str:
    """Normalise an ODPS-style type (`ARRAY<BIGINT>`, `map<string, float>`) to a FieldType name."""
    parsed = _parse_type(re.sub(r"\s+", "", text).upper())
    if parsed is None or parsed not in FIELD_TYPE_NAMES:
        raise ConfigError(
            "data_config.input_fields_str",
            f"unknown type {text!r}; expected one of {', '.join(FIELD_TYPE_NAMES)} "
            "or an ODPS spelling such as BIGINT, ARRAY<BIGINT>, MAP<STRING,FLOAT>",
        )
    return parsed


def parse_input_fields_str(text: str) -> list[tuple[str, str]]:
    """Parse `name:TYPE;name:TYPE;` into (name, FieldType name) pairs."""
    fields = []
    for i, item in enumerate(p for p in text.split(";") if p.strip()):
        name, sep, type_text = item.partition(":")
        name = name.strip()
        if not sep or not name or not type_text.strip():
            raise ConfigError(
                f"data_config.input_fields_str[{i}]", f"expected 'name:TYPE', got {item.strip()!r}"
            )
        fields.append((name, parse_type_name(type_text)))
    return fields


def input_fields(data_config: Any) -> list[tuple[str, str]] | None:
    """The declared (name, FieldType name) columns of a DataConfig; input_fields_str wins; None if none."""
    text = getattr(data_config, "input_fields_str", "") or ""
    if text.strip():
        return parse_input_fields_str(text)
    declared = list(getattr(data_config, "input_fields", []) or [])
    if not declared:
        return None
    return [(f.input_name, field_type_name(f.input_type)) for f in declared]


def arrow_type(type_name: str) -> pa.DataType:
    """The Arrow type that holds a FieldType."""
    if type_name in _ARROW_SCALARS:
        return _ARROW_SCALARS[type_name]
    if type_name.startswith("ARRAY_ARRAY_"):
        return pa.list_(pa.list_(_ARROW_SCALARS[type_name[12:]]))
    if type_name.startswith("ARRAY_"):
        return pa.list_(_ARROW_SCALARS[type_name[6:]])
    if type_name.startswith("MAP_"):
        key = next(k for k in _MAP_KEYS if type_name.startswith(f"MAP_{k}_"))
        return pa.map_(_ARROW_SCALARS[key], _ARROW_SCALARS[type_name[len(key) + 5 :]])
    raise ConfigError("data_config.input_fields", f"unknown field type {type_name!r}")


def csv_arrow_type(type_name: str) -> pa.DataType:
    """The Arrow type a CSV column of this FieldType is read as (lists and maps stay strings)."""
    return _ARROW_SCALARS.get(type_name, pa.string())


def format_fields(fields: Sequence[tuple[str, str]]) -> str:
    """Render (name, FieldType name) pairs back as an input_fields_str."""
    return "".join(f"{name}:{type_name};" for name, type_name in fields)

"""Load, save, inspect and edit pipeline configs (TorchEasyRec text-format or JSON, unchanged)."""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, TypeVar

import fsspec
from google.protobuf import json_format, text_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from rec_core.errors import ConfigError
from rec_core.logging_utils import get_logger
from rec_core.protos import data_pb2
from rec_core.protos.pipeline_pb2 import EasyRecConfig

__all__ = [
    "EditSegment",
    "config_to_kwargs",
    "edit_config",
    "format_edit_path",
    "load_pipeline_config",
    "parse_edit_path",
    "save_message",
    "which_msg",
    "which_msg_type",
]

logger = get_logger("rec.config")

M = TypeVar("M", bound=Message)

_FD = FieldDescriptor
_TYPE_NAMES = {
    _FD.TYPE_DOUBLE: "double",
    _FD.TYPE_FLOAT: "float",
    _FD.TYPE_INT64: "int64",
    _FD.TYPE_UINT64: "uint64",
    _FD.TYPE_INT32: "int32",
    _FD.TYPE_FIXED64: "fixed64",
    _FD.TYPE_FIXED32: "fixed32",
    _FD.TYPE_BOOL: "bool",
    _FD.TYPE_STRING: "string",
    _FD.TYPE_MESSAGE: "message",
    _FD.TYPE_BYTES: "bytes",
    _FD.TYPE_UINT32: "uint32",
    _FD.TYPE_ENUM: "enum",
    _FD.TYPE_SFIXED32: "sfixed32",
    _FD.TYPE_SFIXED64: "sfixed64",
    _FD.TYPE_SINT32: "sint32",
    _FD.TYPE_SINT64: "sint64",
}
_INT_RANGES = {
    _FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    _FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    _FD.TYPE_UINT32: (0, 2**32 - 1),
    _FD.TYPE_FIXED32: (0, 2**32 - 1),
    _FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    _FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _FD.TYPE_UINT64: (0, 2**64 - 1),
    _FD.TYPE_FIXED64: (0, 2**64 - 1),
}


def _is_repeated(fd: FieldDescriptor) -> bool:
    # `label` is deprecated in newer protobuf releases; prefer is_repeated when present.
    rep = getattr(fd, "is_repeated", None)
    return bool(rep) if rep is not None else fd.label == _FD.LABEL_REPEATED


def _is_map(fd: FieldDescriptor) -> bool:
    mt = fd.message_type
    return mt is not None and _is_repeated(fd) and mt.GetOptions().map_entry


def _type_name(fd: FieldDescriptor) -> str:
    if fd.type == _FD.TYPE_MESSAGE:
        return fd.message_type.name
    if fd.type == _FD.TYPE_ENUM:
        return f"enum {fd.enum_type.name}"
    return _TYPE_NAMES.get(fd.type, "value")


def _field_hint(desc: Descriptor, name: str) -> str:
    names = [f.name for f in desc.fields]
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return f"{hint}fields are: {', '.join(names)}"


# ---------------------------------------------------------------------------------------
# loading


def _read_text(path: str) -> str:
    try:
        fs, p = fsspec.core.url_to_fs(path)
    except (ValueError, ImportError) as e:
        raise ConfigError("", f"cannot open config: {e}", source=path) from e
    if not fs.exists(p):
        raise ConfigError("", "config file not found", source=path)
    if fs.isdir(p):
        raise ConfigError("", "config path is a directory, expected a file", source=path)
    with fs.open(p, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError("", f"config is not UTF-8 text: {e}", source=path) from e


_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>\#[^\n]*)|(?P<str>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)"""
    r"""|(?P<word>[A-Za-z0-9_.+\-]+)|(?P<punct>.)""",
    re.S,
)


@dataclass
class _Frame:
    desc: Descriptor | None
    path: str
    counts: dict[str, int] = field(default_factory=dict)


def _join(path: str, seg: str) -> str:
    return f"{path}.{seg}" if path else seg


def _text_context(
    text: str, root: Descriptor, line: int, col: int
) -> tuple[Descriptor | None, str, FieldDescriptor | None]:
    """Where a text-format parse stopped: (enclosing message, field path, field being set).

    Replays the tokens before the error position, tracking message nesting and the
    index of each repeated field, so the error can name a full field path.
    """
    line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    if line < 1 or line > len(line_starts):
        return None, "", None
    limit = line_starts[line - 1] + max(col - 1, 0)
    stack = [_Frame(root, "")]
    # the field whose value comes next: (descriptor or None, name, path if already indexed)
    pending: tuple[FieldDescriptor | None, str, str | None] | None = None
    expect_value = in_list = False

    def scalar_path(frame: _Frame, fd: FieldDescriptor | None, name: str, consume: bool) -> str:
        if fd is None or not _is_repeated(fd):
            return _join(frame.path, name)
        idx = frame.counts.get(name, 0)
        if consume:
            frame.counts[name] = idx + 1
        return _join(frame.path, f"{name}[{idx}]")

    for m in _TOKEN.finditer(text):
        kind, tok = m.lastgroup, m.group()
        if kind in ("ws", "comment"):
            continue
        frame = stack[-1]
        if m.start() >= limit:
            if pending is None:
                if kind == "word" and not expect_value:
                    return frame.desc, _join(frame.path, tok), None
                return frame.desc, frame.path, None
            fd, name, known = pending
            return frame.desc, known or scalar_path(frame, fd, name, False), fd
        if tok in ("{", "<"):
            sub_path = frame.path
            sub: Descriptor | None = None
            if pending is not None:
                fd, name, known = pending
                sub_path = known or scalar_path(frame, fd, name, True)
                sub = fd.message_type if fd is not None else None
            stack.append(_Frame(sub, sub_path))
            pending, expect_value, in_list = None, False, False
        elif tok in ("}", ">"):
            if len(stack) > 1:
                stack.pop()
            pending, expect_value, in_list = None, False, False
        elif tok == ":":
            expect_value = True
        elif tok == "[" and pending is not None and expect_value:
            in_list = True
        elif tok == "]":
            pending, expect_value, in_list = None, False, False
        elif tok in (",", ";"):
            if not in_list:
                pending, expect_value = None, False
        elif kind in ("word", "str"):
            if pending is not None and (expect_value or in_list):
                scalar_path(frame, pending[0], pending[1], True)
                if not in_list:
                    pending, expect_value = None, False
            elif kind == "word":
                fd = frame.desc.fields_by_name.get(tok) if frame.desc is not None else None
                pending = (fd, tok, None)
    frame = stack[-1]
    if pending is None:
        return frame.desc, frame.path, None
    fd, name, known = pending
    return frame.desc, known or scalar_path(frame, fd, name, False), fd


_UNKNOWN_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "([^"]+)"')
_UNKNOWN_ENUM = re.compile(r'Enum type "([\w.]+)" has no value named ([^\s.]+)')
_VALUE_ERROR = re.compile(r"Couldn't parse|out of range|Expected \"true\" or \"false\"|Expected string|Expected (integer|double)|Invalid")


def _explain(msg: str, desc: Descriptor | None, fd: FieldDescriptor | None) -> tuple[str, str | None]:
    """Rephrase a protobuf parse message; returns (message, unknown field name or None)."""
    m = _UNKNOWN_FIELD.search(msg)
    if m:
        name = m.group(2)
        short = m.group(1).rsplit(".", 1)[-1]
        hint = f"; {_field_hint(desc, name)}" if desc is not None else ""
        return f'unknown field "{name}" in message {short}{hint}', name
    m = _UNKNOWN_ENUM.search(msg)
    if m:
        enum_name = m.group(1).rsplit(".", 1)[-1]
        values = ""
        if fd is not None and fd.enum_type is not None:
            values = ": expected one of " + ", ".join(v.name for v in fd.enum_type.values)
        where = f" for field {fd.name}" if fd is not None else ""
        return f"unknown {enum_name} value {m.group(2)}{where}{values}", None
    if fd is not None and fd.type != _FD.TYPE_MESSAGE and _VALUE_ERROR.search(msg):
        kind = _type_name(fd) if fd.type != _FD.TYPE_ENUM else f"a {fd.enum_type.name} name"
        return f"wrong value for field {fd.name}: expected {kind} ({msg})", None
    return f"syntax error: {msg}", None


def _parse_text(text: str, config: Message, source: str, allow_unknown_field: bool) -> None:
    try:
        text_format.Merge(text, config, allow_unknown_field=allow_unknown_field)
    except text_format.ParseError as e:
        line, col = e.GetLine(), e.GetColumn()
        raw = str(e)
        raw = re.sub(r"^\d+:\d+ : ", "", raw)
        lines = text.splitlines()
        if line and 0 < line <= len(lines):
            raw = raw.replace(f"'{lines[line - 1]}': ", "", 1)
        desc, path, fd = _text_context(text, config.DESCRIPTOR, line or 0, col or 0)
        msg, _ = _explain(raw, desc, fd)
        where = f"line {line}, column {col}: " if line else ""
        raise ConfigError(path, where + msg, source=source) from e
    # Merge (as TorchEasyRec uses) lets a later oneof member silently replace an earlier
    # one; a strict re-parse finds such conflicts so the user hears about them.
    try:
        text_format.Parse(text, type(config)(), allow_unknown_field=allow_unknown_field)
    except text_format.ParseError as e:
        if "oneof" in str(e):
            _, path, _ = _text_context(text, config.DESCRIPTOR, e.GetLine() or 0, e.GetColumn() or 0)
            logger.warning(
                "%s: %s: line %s: two members of one oneof are set; the last one wins (%s)",
                source, path, e.GetLine(), re.sub(r"^\d+:\d+ : ", "", str(e)),
            )


_WELL_KNOWN = ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any")


def _json_value_error(fd: FieldDescriptor, value: Any) -> str:
    if fd.type == _FD.TYPE_ENUM:
        names = ", ".join(v.name for v in fd.enum_type.values)
        return f"wrong value for field {fd.name}: {value!r} is not a {fd.enum_type.name}; expected one of {names}"
    return f"wrong value for field {fd.name}: expected {_type_name(fd)}, got {json.dumps(value)}"


def _locate_json_error(data: Any, desc: Descriptor, path: str, allow_unknown: bool) -> tuple[str, str] | None:
    """First field in decoded JSON that protobuf rejects: (field path, what was expected)."""
    from google.protobuf import message_factory

    if not isinstance(data, dict):
        return path, f"expected a JSON object for message {desc.name}, got {json.dumps(data)[:40]}"
    for key, value in data.items():
        fd = desc.fields_by_name.get(key) or desc.fields_by_camelcase_name.get(key)
        if fd is None:
            if allow_unknown:
                continue
            return _join(path, key), f'unknown field "{key}" in message {desc.name}; {_field_hint(desc, key)}'
        sub = _join(path, fd.name)
        if value is None:
            continue
        if fd.message_type is not None and not _is_map(fd) and fd.message_type.full_name not in _WELL_KNOWN:
            if _is_repeated(fd) and isinstance(value, list):
                for i, item in enumerate(value):
                    found = _locate_json_error(item, fd.message_type, f"{sub}[{i}]", allow_unknown)
                    if found:
                        return found
                continue
            if _is_repeated(fd):
                return sub, f"expected a JSON list for repeated field {fd.name}"
            found = _locate_json_error(value, fd.message_type, sub, allow_unknown)
            if found:
                return found
            continue
        probe = message_factory.GetMessageClass(desc)()
        try:
            json_format.ParseDict({key: value}, probe)
        except json_format.ParseError:
            if _is_repeated(fd) and isinstance(value, list) and not _is_map(fd):
                for i, item in enumerate(value):
                    try:
                        json_format.ParseDict({key: [item]}, message_factory.GetMessageClass(desc)())
                    except json_format.ParseError:
                        return f"{sub}[{i}]", _json_value_error(fd, item)
            return sub, _json_value_error(fd, value)
    return None


def _parse_json(text: str, config: Message, source: str, allow_unknown_field: bool) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError("", f"line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}", source=source) from e
    try:
        json_format.ParseDict(data, config, ignore_unknown_fields=allow_unknown_field)
    except json_format.ParseError as e:
        found = _locate_json_error(data, config.DESCRIPTOR, "", allow_unknown_field)
        path, msg = found if found else ("", str(e))
        raise ConfigError(path, msg, source=source) from e


def _apply_fg_compat(config: EasyRecConfig) -> None:
    """Map the deprecated data_config.fg_encoded onto fg_mode."""
    if not config.HasField("data_config"):
        return
    dc = config.data_config
    if not dc.HasField("fg_encoded") or dc.HasField("fg_mode"):
        return
    if dc.fg_encoded:
        dc.fg_mode = data_pb2.FG_NONE
    elif dc.fg_threads > 0:
        dc.fg_mode = data_pb2.FG_DAG
    else:
        dc.fg_mode = data_pb2.FG_NORMAL
    logger.warning(
        "data_config.fg_encoded is deprecated; use data_config.fg_mode (mapped fg_encoded: %s to fg_mode: %s)",
        str(dc.fg_encoded).lower(),
        data_pb2.FgMode.Name(dc.fg_mode),
    )


def load_pipeline_config(path: str, allow_unknown_field: bool = False) -> EasyRecConfig:
    """Read a pipeline config (text format, or JSON when `path` ends in .json) from a path or URL."""
    text = _read_text(path)
    config = EasyRecConfig()
    if path.lower().endswith(".json"):
        _parse_json(text, config, path, allow_unknown_field)
    else:
        _parse_text(text, config, path, allow_unknown_field)
    _apply_fg_compat(config)
    return config


def save_message(message: Message, path: str) -> None:
    """Write `message` as text format to a path or URL; local files are replaced atomically."""
    text = text_format.MessageToString(message, as_utf8=True)
    fs, p = fsspec.core.url_to_fs(path)
    parent = os.path.dirname(p)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
        # readers never see a half-written config: write a sibling, then rename over
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(p)}.", suffix=".tmp", dir=parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, p)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    else:
        with fs.open(p, "w", encoding="utf-8") as f:
            f.write(text)


# ---------------------------------------------------------------------------------------
# inspecting


def _value_to_py(fd: FieldDescriptor, value: Any) -> Any:
    if fd.type == _FD.TYPE_MESSAGE:
        if fd.message_type.full_name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
            return json_format.MessageToDict(value)
        return config_to_kwargs(value)
    if fd.type == _FD.TYPE_ENUM:
        ev = fd.enum_type.values_by_number.get(value)
        return ev.name if ev is not None else value
    return value


def config_to_kwargs(message: Message) -> dict[str, Any]:
    """Message as a dict keyed by proto field names; unset scalars give their defaults, enums their names."""
    out: dict[str, Any] = {}
    for fd in message.DESCRIPTOR.fields:
        value = getattr(message, fd.name)
        if _is_map(fd):
            vfd = fd.message_type.fields_by_name["value"]
            out[fd.name] = {k: _value_to_py(vfd, v) for k, v in value.items()}
        elif _is_repeated(fd):
            out[fd.name] = [_value_to_py(fd, v) for v in value]
        elif fd.type == _FD.TYPE_MESSAGE:
            if message.HasField(fd.name):
                out[fd.name] = _value_to_py(fd, value)
        elif fd.containing_oneof is not None and not message.HasField(fd.name):
            continue
        else:
            out[fd.name] = _value_to_py(fd, value)
    return out


def _which(message: Message, oneof_name: str) -> str:
    try:
        name = message.WhichOneof(oneof_name)
    except ValueError as e:
        oneofs = ", ".join(message.DESCRIPTOR.oneofs_by_name) or "none"
        raise ConfigError(oneof_name, f"{message.DESCRIPTOR.name} has no oneof {oneof_name!r}; oneofs are: {oneofs}") from e
    if name is None:
        choices = ", ".join(f.name for f in message.DESCRIPTOR.oneofs_by_name[oneof_name].fields)
        raise ConfigError(oneof_name, f"none of {choices} is set in {message.DESCRIPTOR.name}")
    return name


def which_msg(message: Message, oneof_name: str) -> str:
    """Name of the field set in oneof `oneof_name` (e.g. "deepfm"); ConfigError when none is set."""
    return _which(message, oneof_name)


def which_msg_type(message: Message, oneof_name: str) -> str:
    """Message type name of the field set in oneof `oneof_name` (e.g. "DeepFM", "IdFeature")."""
    name = _which(message, oneof_name)
    fd = message.DESCRIPTOR.fields_by_name[name]
    return fd.message_type.name if fd.message_type is not None else _type_name(fd)


# ---------------------------------------------------------------------------------------
# editing: TorchEasyRec --edit_config_json paths


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SELECTOR_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_INT = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class EditSegment:
    """One dotted part of an edit path: a field name and its bracket selectors."""

    name: str
    # each selector: ("index", i) | ("slice", (start, stop)) | ("cond", (key, op, value))
    selectors: tuple[tuple[str, Any], ...] = ()


def _parse_selector(body: str, path: str) -> tuple[str, Any]:
    text = body.strip()
    if _INT.match(text):
        return ("index", int(text))
    if text.count(":") == 1:
        a, b = (p.strip() for p in text.split(":"))
        if all(p == "" or _INT.match(p) for p in (a, b)):
            return ("slice", (int(a) if a else None, int(b) if b else None))
    pos = min((text.find(c) for c in "<>=" if c in text), default=-1)
    if pos <= 0:
        raise ConfigError(path, f"bad selector [{body}]: expected [i], [:], [a:b] or [key<op>value] with op one of >= <= > < =")
    op = text[pos : pos + 2] if text[pos : pos + 2] in (">=", "<=") else text[pos]
    key, value = text[:pos].strip(), text[pos + len(op) :].strip()
    if not _SELECTOR_KEY.match(key):
        raise ConfigError(path, f"bad selector [{body}]: {key!r} is not a field name")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return ("cond", (key, op, value))


def parse_edit_path(path: str) -> list[EditSegment]:
    """Split an edit path like `a.b[0].c[key=v].d[1:3]` into segments; ConfigError when malformed."""
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(str(path), "empty edit path")
    segments: list[EditSegment] = []
    i, n = 0, len(path)
    while True:
        j = i
        while j < n and path[j] not in ".[]":
            j += 1
        name = path[i:j].strip()
        if not _NAME.match(name):
            raise ConfigError(path, f"bad edit path: expected a field name at position {i}, got {path[i:j]!r}")
        selectors = []
        while j < n and path[j] == "[":
            close = path.find("]", j + 1)
            if close < 0:
                raise ConfigError(path, f"bad edit path: '[' at position {j} is never closed")
            selectors.append(_parse_selector(path[j + 1 : close], path))
            j = close + 1
        segments.append(EditSegment(name, tuple(selectors)))
        if j == n:
            return segments
        if path[j] != ".":
            raise ConfigError(path, f"bad edit path: unexpected {path[j]!r} at position {j}")
        i = j + 1


def format_edit_path(segments: list[EditSegment]) -> str:
    """Inverse of parse_edit_path."""
    parts = []
    for seg in segments:
        text = seg.name
        for kind, arg in seg.selectors:
            if kind == "index":
                text += f"[{arg}]"
            elif kind == "slice":
                a, b = arg
                text += f"[{'' if a is None else a}:{'' if b is None else b}]"
            else:
                text += f"[{arg[0]}{arg[1]}{arg[2]}]"
        parts.append(text)
    return ".".join(parts)


def _convert_scalar(fd: FieldDescriptor, value: Any, path: str) -> Any:
    """Coerce a JSON value or string to the Python type protobuf expects for `fd`."""
    expected = _type_name(fd)

    def bad(extra: str = "") -> ConfigError:
        return ConfigError(path, f"cannot set {fd.name} to {value!r}: expected {expected}{extra}")

    t = fd.type
    if t == _FD.TYPE_BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise bad(" (true or false)")
    if t in _INT_RANGES:
        lo, hi = _INT_RANGES[t]
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            s = value.strip()
            if not _INT.match(s):
                raise bad()
            value = int(s)
        if not isinstance(value, int):
            raise bad()
        if not lo <= value <= hi:
            raise bad(f" in [{lo}, {hi}]")
        return value
    if t in (_FD.TYPE_FLOAT, _FD.TYPE_DOUBLE):
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, (int, float)):
            try:
                return float(value)
            except OverflowError:
                raise bad(" (value too large)") from None
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise bad() from None
        raise bad()
    if t == _FD.TYPE_ENUM:
        names = [v.name for v in fd.enum_type.values]
        if isinstance(value, str) and value.strip() in fd.enum_type.values_by_name:
            return fd.enum_type.values_by_name[value.strip()].number
        if isinstance(value, int) and not isinstance(value, bool) and value in fd.enum_type.values_by_number:
            return value
        raise ConfigError(path, f"cannot set {fd.name} to {value!r}: expected one of {', '.join(names)}")
    if t == _FD.TYPE_STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, (bool, int, float)):
            return json.dumps(value) if isinstance(value, bool) else str(value)
        raise bad()
    if t == _FD.TYPE_BYTES:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        raise bad()
    raise bad()


def _convert_message(fd: FieldDescriptor, value: Any, path: str) -> Message:
    """Build a message for `fd` from a dict, a JSON / text-format string, or a message."""
    from google.protobuf import message_factory

    cls = message_factory.GetMessageClass(fd.message_type)
    msg = cls()
    try:
        if isinstance(value, Message):
            if value.DESCRIPTOR.full_name != fd.message_type.full_name:
                raise ConfigError(path, f"expected a {fd.message_type.name} message, got {value.DESCRIPTOR.name}")
            msg.CopyFrom(value)
        elif isinstance(value, dict):
            json_format.ParseDict(value, msg)
        elif isinstance(value, str):
            s = value.strip()
            if s.startswith("{") and s.endswith("}"):
                try:
                    data = json.loads(s)
                except json.JSONDecodeError:
                    data = None
                if isinstance(data, dict):
                    json_format.ParseDict(data, msg)
                    return msg
                s = s[1:-1]
            text_format.Merge(s, msg)
        else:
            raise ConfigError(path, f"cannot set {fd.name} to {value!r}: expected a {fd.message_type.name} (JSON object or text format)")
    except (json_format.ParseError, text_format.ParseError, TypeError, ValueError) as e:
        raise ConfigError(path, f"cannot set {fd.name}: bad {fd.message_type.name}: {e}") from e
    return msg


def _convert_list(fd: FieldDescriptor, value: Any, path: str) -> list[Any]:
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):
            try:
                value = json.loads(s)
            except json.JSONDecodeError as e:
                raise ConfigError(path, f"cannot set {fd.name}: bad JSON list: {e}") from e
        elif fd.message_type is not None:
            value = [value]
        else:
            value = [p.strip() for p in s.split(",")] if s else []
    if not isinstance(value, (list, tuple)):
        value = [value]
    if fd.message_type is not None:
        return [_convert_message(fd, v, path) for v in value]
    return [_convert_scalar(fd, v, path) for v in value]


def _elem_key_value(elem: Message, key: str) -> tuple[bool, Any, FieldDescriptor | None]:
    """Look `key` up on a message, or inside whichever of its oneof members is set."""
    target: Message | None = elem
    parts = key.split(".")
    for depth, part in enumerate(parts):
        assert target is not None
        fd = target.DESCRIPTOR.fields_by_name.get(part)
        if fd is None and depth == 0:
            # TorchEasyRec lets feature_configs[feature_name=x] match the set oneof message.
            for oneof in target.DESCRIPTOR.oneofs:
                which = target.WhichOneof(oneof.name)
                if which is None:
                    continue
                sub = getattr(target, which)
                if isinstance(sub, Message) and part in sub.DESCRIPTOR.fields_by_name:
                    target, fd = sub, sub.DESCRIPTOR.fields_by_name[part]
                    break
        if fd is None or _is_repeated(fd):
            return False, None, None
        if depth < len(parts) - 1:
            if fd.message_type is None:
                return False, None, None
            target = getattr(target, part)
        else:
            return True, getattr(target, part), fd
    return False, None, None


def _matches(elem: Any, fd_elem: FieldDescriptor, cond: tuple[str, str, str], path: str) -> bool:
    key, op, raw = cond
    if fd_elem.message_type is None:
        raise ConfigError(path, f"selector [{key}{op}{raw}] needs a repeated message field; {fd_elem.name} holds {_type_name(fd_elem)}")
    found, actual, fd = _elem_key_value(elem, key)
    if not found or fd is None or fd.message_type is not None:
        return False
    if op != "=" and fd.type in (_FD.TYPE_BOOL, _FD.TYPE_ENUM, _FD.TYPE_BYTES):
        raise ConfigError(path, f"selector [{key}{op}{raw}]: {op} needs a number or string field, {key} is {_type_name(fd)}")
    want = raw if fd.type == _FD.TYPE_STRING else _convert_scalar(fd, raw, path)
    if op == "=":
        return bool(actual == want)
    return bool({">=": actual >= want, "<=": actual <= want, ">": actual > want, "<": actual < want}[op])


def _select(container: Any, fd: FieldDescriptor, selectors: tuple[tuple[str, Any], ...], path: str) -> list[int]:
    """Indices of `container` (a repeated field) picked by the selectors, applied in turn."""
    idx = list(range(len(container)))
    for kind, arg in selectors:
        if kind == "index":
            if not -len(idx) <= arg < len(idx):
                raise ConfigError(path, f"index [{arg}] out of range: {fd.name} has {len(idx)} element(s)")
            idx = [idx[arg]]
        elif kind == "slice":
            idx = idx[slice(*arg)]
        else:
            idx = [i for i in idx if _matches(container[i], fd, arg, path)]
            if not idx:
                key, op, raw = arg
                raise ConfigError(path, f"no element of {fd.name} matches [{key}{op}{raw}]")
    return idx


def _set_field(msg: Message, fd: FieldDescriptor, value: Any, path: str) -> None:
    if fd.message_type is not None:
        sub = _convert_message(fd, value, path)
        getattr(msg, fd.name).CopyFrom(sub)
        getattr(msg, fd.name).SetInParent()  # an empty message must still select its oneof
    else:
        _store(lambda v: setattr(msg, fd.name, v), fd, value, path)


def _store(assign: Any, fd: FieldDescriptor, value: Any, path: str) -> None:
    converted = _convert_scalar(fd, value, path)
    try:
        assign(converted)
    except (TypeError, ValueError) as e:  # e.g. strings protobuf cannot encode as UTF-8
        raise ConfigError(path, f"cannot set {fd.name} to {value!r}: {e}") from e


def _apply(msg: Message, segments: list[EditSegment], value: Any, path: str, many: bool = False) -> int:
    """Apply one edit below `msg`; returns how many fields were set.

    `many` is true under a slice or condition: elements whose oneof holds a different
    member are then skipped instead of being switched over (which would drop their data).
    """
    seg, rest = segments[0], segments[1:]
    fd = msg.DESCRIPTOR.fields_by_name.get(seg.name)
    if fd is None:
        raise ConfigError(path, f"no field {seg.name!r} in {msg.DESCRIPTOR.name}; {_field_hint(msg.DESCRIPTOR, seg.name)}")
    if _is_map(fd):
        raise ConfigError(path, f"{seg.name} is a map; edit it as a whole from its parent message")
    if not _is_repeated(fd):
        if seg.selectors:
            raise ConfigError(path, f"{seg.name} is not a repeated field; [..] selectors need a repeated field")
        if not rest:
            _set_field(msg, fd, value, path)
            return 1
        if fd.message_type is None:
            raise ConfigError(path, f"{seg.name} is a {_type_name(fd)}, it has no field {rest[0].name!r}")
        oneof = fd.containing_oneof
        current = msg.WhichOneof(oneof.name) if oneof is not None else None
        if current is not None and current != seg.name:
            if many:
                return 0
            raise ConfigError(
                path, f"{msg.DESCRIPTOR.name} has {current} set in oneof {oneof.name}, not {seg.name}; set {seg.name} as a whole to switch"
            )
        return _apply(getattr(msg, seg.name), rest, value, path, many)
    container = getattr(msg, seg.name)
    if not seg.selectors:
        if rest:
            raise ConfigError(path, f"{seg.name} is a repeated field; select elements with [i], [:], [a:b] or [key=value]")
        items = _convert_list(fd, value, path)
        del container[:]
        if fd.message_type is not None:
            for item in items:
                container.add().CopyFrom(item)
        else:
            try:
                container.extend(items)
            except (TypeError, ValueError) as e:
                raise ConfigError(path, f"cannot set {fd.name} to {value!r}: {e}") from e
        return 1
    picked = _select(container, fd, seg.selectors, path)
    many = many or any(kind != "index" for kind, _ in seg.selectors)
    applied = 0
    for i in picked:
        if rest:
            if fd.message_type is None:
                raise ConfigError(path, f"{seg.name} holds {_type_name(fd)} values, they have no field {rest[0].name!r}")
            applied += _apply(container[i], rest, value, path, many)
        elif fd.message_type is not None:
            container[i].CopyFrom(_convert_message(fd, value, path))
            applied += 1
        else:
            _store(lambda v, i=i: container.__setitem__(i, v), fd, value, path)
            applied += 1
    return applied


def edit_config(message: M, edits: dict[str, Any]) -> M:
    """Apply TorchEasyRec `--edit_config_json` edits ({"a.b[0].c": value}) in place; returns `message`."""
    if not isinstance(edits, dict):
        raise ConfigError("", f"edits must be a JSON object of path: value, got {type(edits).__name__}")
    for path, value in edits.items():
        segments = parse_edit_path(path)
        if _apply(message, segments, value, path) == 0:
            raise ConfigError(path, "matched no field: every selected element has a different oneof member set")
    return message

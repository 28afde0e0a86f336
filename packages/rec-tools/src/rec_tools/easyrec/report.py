"""What a conversion did not carry over, and why; written beside the converted config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from rec_core.errors import ConfigError
from rec_tools.easyrec.textproto import Node, Scalar, unused

_INTS = {
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
}
_FLOATS = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}


@dataclass
class Report:
    """Dropped options (path, line, reason) and notes on choices the conversion made."""

    source: str = ""
    dropped: list[tuple[str, int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def drop(self, path: str, line: int, reason: str) -> None:
        """Record an EasyRec option that has no equivalent in rec."""
        self.dropped.append((path, line, reason))

    def note(self, message: str) -> None:
        """Record a choice the conversion made where rec and EasyRec differ."""
        self.notes.append(message)

    def add_unread(self, root: Node) -> None:
        """Every field of the input the conversion never read: dropped as unknown to the converter."""
        known = [p for p, _, _ in self.dropped]
        for path, line in unused(root):
            # fields inside an option dropped as a whole are not listed again
            if not any(path == k or path.startswith((f"{k}.", f"{k}[")) for k in known):
                self.drop(path, line, "not read by the converter (no rec equivalent known)")

    def text(self) -> str:
        """The report as text: dropped options first, then notes."""
        lines = [f"# conversion of {self.source}", f"# {len(self.dropped)} option(s) dropped, {len(self.notes)} note(s)"]
        lines += [f"dropped: {path} (line {line}): {reason}" for path, line, reason in sorted(self.dropped, key=lambda d: d[1])]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def copy_fields(node: Node, message: Any, where: str) -> None:
    """Set each scalar field of `message` that `node` carries under the same name.

    Fields the message lacks stay unread, so the report names them.
    """
    for fd in message.DESCRIPTOR.fields:
        if not node.has(fd.name) or fd.type == FieldDescriptor.TYPE_MESSAGE:
            continue
        converted = [_scalar(fd, v, f"{where}.{fd.name}") for v in node.scalars(fd.name, where)]
        if fd.is_repeated:
            getattr(message, fd.name).extend(converted)
        elif converted:
            setattr(message, fd.name, converted[-1])


def _scalar(fd: FieldDescriptor, value: Scalar, where: str) -> Any:
    if fd.type in _INTS:
        return value.as_int(where)
    if fd.type in _FLOATS:
        return value.as_float(where)
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return value.as_bool(where)
    if fd.type == FieldDescriptor.TYPE_ENUM:
        if value.text not in fd.enum_type.values_by_name:
            names = ", ".join(fd.enum_type.values_by_name)
            raise ConfigError(where, f"line {value.line}: {value.text!r} is not one of {names}")
        return fd.enum_type.values_by_name[value.text].number
    return value.as_str()

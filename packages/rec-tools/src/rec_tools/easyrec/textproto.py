"""A schema-free reader of protobuf text format, for configs whose .proto rec does not carry.

`parse` turns text into a tree of `Node`s (field name -> list of values, in file order), each
value remembering its line. Reading a field through `Node` marks it used, so after a
conversion `unused` lists every field nobody read: nothing in the input is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Union

from rec_core.errors import ConfigError

__all__ = ["Node", "Scalar", "parse", "unused", "dumps"]

_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)|(?P<comment>\#[^\n]*)"""
    r"""|(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
    r"""|(?P<word>[A-Za-z0-9_.+\-]+)|(?P<punct>[{}<>\[\]:,;])|(?P<bad>.)""",
)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)


@dataclass
class Scalar:
    """One scalar value: `text` is the decoded string, or the literal word (number, enum, bool)."""

    text: str
    quoted: bool
    line: int

    def as_str(self) -> str:
        """The value as a string (a word such as an enum name is returned as written)."""
        return self.text

    def as_float(self, where: str) -> float:
        """The value as a number; ConfigError naming `where` otherwise."""
        try:
            return float(self.text.rstrip("fF") if not self.quoted and not self.text.lower().startswith(("inf", "-inf", "nan")) else self.text)
        except ValueError:
            raise ConfigError(where, f"line {self.line}: expected a number, got {self.text!r}") from None

    def as_int(self, where: str) -> int:
        """The value as an integer; ConfigError naming `where` otherwise."""
        try:
            return int(self.text, 0)
        except ValueError:
            value = self.as_float(where)
            if not value.is_integer():
                raise ConfigError(where, f"line {self.line}: expected an integer, got {self.text!r}") from None
            return int(value)

    def as_bool(self, where: str) -> bool:
        """true/false (also 1/0, True/False, t/f)."""
        low = self.text.lower()
        if low in ("true", "t", "1"):
            return True
        if low in ("false", "f", "0"):
            return False
        raise ConfigError(where, f"line {self.line}: expected true or false, got {self.text!r}")


Value = Union["Node", Scalar]


@dataclass
class Node:
    """A message: its fields in order of first appearance, each a list of values."""

    line: int = 1
    fields: dict[str, list[Value]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def add(self, name: str, value: Value) -> None:
        """Append a value to field `name`."""
        self.fields.setdefault(name, []).append(value)

    def has(self, name: str) -> bool:
        """Whether the field is present (does not mark it used)."""
        return name in self.fields

    def all(self, name: str) -> list[Value]:
        """Every value of a (repeated) field, marking it used."""
        if name in self.fields:
            self.used.add(name)
        return list(self.fields.get(name, []))

    def one(self, name: str) -> Value | None:
        """The last value of a singular field (protobuf semantics), marking it used."""
        values = self.all(name)
        return values[-1] if values else None

    def node(self, name: str, where: str) -> Node | None:
        """A message-valued field, or None; ConfigError when it holds a scalar."""
        value = self.one(name)
        if value is not None and not isinstance(value, Node):
            raise ConfigError(f"{where}.{name}", f"line {value.line}: expected a message {{...}}, got {value.text!r}")
        return value

    def nodes(self, name: str, where: str) -> list[Node]:
        """Every message of a repeated message field."""
        out = []
        for i, value in enumerate(self.all(name)):
            if not isinstance(value, Node):
                raise ConfigError(f"{where}.{name}[{i}]", f"line {value.line}: expected a message {{...}}, got {value.text!r}")
            out.append(value)
        return out

    def scalar(self, name: str, where: str) -> Scalar | None:
        """A scalar field's last value, or None; ConfigError when it holds a message."""
        value = self.one(name)
        if isinstance(value, Node):
            raise ConfigError(f"{where}.{name}", f"line {value.line}: expected a value, got a message")
        return value

    def scalars(self, name: str, where: str) -> list[Scalar]:
        """Every value of a repeated scalar field."""
        out = []
        for value in self.all(name):
            if isinstance(value, Node):
                raise ConfigError(f"{where}.{name}", f"line {value.line}: expected values, got a message")
            out.append(value)
        return out

    def str(self, name: str, where: str, default: str = "") -> str:
        """A string field (default when absent)."""
        value = self.scalar(name, where)
        return default if value is None else value.as_str()

    def float(self, name: str, where: str, default: float = 0.0) -> float:
        """A number field (default when absent)."""
        value = self.scalar(name, where)
        return default if value is None else value.as_float(f"{where}.{name}")

    def int(self, name: str, where: str, default: int = 0) -> int:
        """An integer field (default when absent)."""
        value = self.scalar(name, where)
        return default if value is None else value.as_int(f"{where}.{name}")

    def bool(self, name: str, where: str, default: bool = False) -> bool:
        """A bool field (default when absent)."""
        value = self.scalar(name, where)
        return default if value is None else value.as_bool(f"{where}.{name}")

    def strs(self, name: str, where: str) -> list[str]:
        """A repeated string field."""
        return [v.as_str() for v in self.scalars(name, where)]

    def mark_used(self, *names: str) -> None:
        """Mark fields as read without reading them (e.g. options that keep their meaning unchanged)."""
        self.used.update(n for n in names if n in self.fields)


def _unescape(body: str) -> str:
    """Decode a quoted string's escapes as protobuf does (\\x and octal escapes are bytes of UTF-8)."""
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(body):
        out += body[pos : m.start()].encode("utf-8")
        esc = m.group(1)
        if esc[0] == "x":
            out.append(int(esc[1:], 16))
        elif esc[0] in "01234567":
            out.append(int(esc, 8) & 0xFF)
        elif esc[0] in "uU":
            out += chr(int(esc[1:], 16)).encode("utf-8")
        elif esc in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[esc].encode("utf-8")
        else:
            raise ValueError(f"unknown escape \\{esc}")
        pos = m.end()
    out += body[pos:].encode("utf-8")
    return out.decode("utf-8", errors="replace")


@dataclass
class _Tok:
    kind: str
    text: str
    line: int


def _tokens(text: str, source: str) -> list[_Tok]:
    out = []
    line = 1
    for m in _TOKEN.finditer(text):
        kind, tok = m.lastgroup, m.group()
        if kind == "bad":
            raise ConfigError("", f"line {line}: unexpected character {tok!r}", source=source)
        if kind not in ("ws", "comment"):
            out.append(_Tok(kind or "", tok, line))
        line += tok.count("\n")
    return out


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.toks = _tokens(text, source)
        self.pos = 0
        self.source = source

    def error(self, msg: str) -> ConfigError:
        line = self.toks[min(self.pos, len(self.toks) - 1)].line if self.toks else 1
        return ConfigError("", f"line {line}: {msg}", source=self.source)

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of file")
        self.pos += 1
        return tok

    def message(self, close: str | None, line: int) -> Node:
        node = Node(line)
        while True:
            tok = self.peek()
            if tok is None:
                if close is not None:
                    raise self.error(f"a message opened on line {line} is never closed with {close!r}")
                return node
            if close is not None and tok.text == close:
                self.pos += 1
                return node
            if tok.kind != "word" or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tok.text):
                raise self.error(f"expected a field name, got {tok.text!r}")
            self.pos += 1
            self.field(node, tok)
            nxt = self.peek()
            if nxt is not None and nxt.text in (",", ";"):
                self.pos += 1

    def field(self, node: Node, name: _Tok) -> None:
        tok = self.take()
        colon = tok.text == ":"
        if colon:
            tok = self.take()
        if tok.text in ("{", "<"):
            node.add(name.text, self.message("}" if tok.text == "{" else ">", tok.line))
        elif tok.text == "[" and colon:
            self.list(node, name.text)
        elif colon:
            node.add(name.text, self.scalar(tok))
        else:
            raise self.error(f"expected ':' or '{{' after field {name.text!r}, got {tok.text!r}")

    def list(self, node: Node, name: str) -> None:
        if self.peek() is not None and self.peek().text == "]":  # type: ignore[union-attr]
            self.pos += 1
            node.fields.setdefault(name, [])
            return
        while True:
            tok = self.take()
            if tok.text in ("{", "<"):
                node.add(name, self.message("}" if tok.text == "{" else ">", tok.line))
            else:
                node.add(name, self.scalar(tok))
            sep = self.take()
            if sep.text == "]":
                return
            if sep.text != ",":
                raise self.error(f"expected ',' or ']' in the list of {name!r}, got {sep.text!r}")

    def scalar(self, tok: _Tok) -> Scalar:
        if tok.kind == "str":
            parts = [tok]
            while self.peek() is not None and self.peek().kind == "str":  # type: ignore[union-attr]
                parts.append(self.take())
            try:
                return Scalar("".join(_unescape(p.text[1:-1]) for p in parts), True, tok.line)
            except ValueError as e:
                raise self.error(str(e)) from None
        if tok.kind == "word":
            return Scalar(tok.text, False, tok.line)
        raise self.error(f"expected a value, got {tok.text!r}")


def parse(text: str, source: str = "") -> Node:
    """Parse protobuf text format into a Node tree; a syntax error is a ConfigError naming the line."""
    return _Parser(text, source).message(None, 1)


def unused(node: Node, path: str = "") -> Iterator[tuple[str, int]]:
    """(dotted path, line) of every field no one read, once per field; read messages are searched inside."""
    for name, values in node.fields.items():
        where = f"{path}.{name}" if path else name
        if name not in node.used:
            yield where, values[0].line if values else node.line
            continue
        messages = [v for v in values if isinstance(v, Node)]
        for i, value in enumerate(messages):
            yield from unused(value, f"{where}[{i}]" if len(messages) > 1 else where)


def _escape(c: str) -> str:
    if c.isprintable():
        return c
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + "".join(_escape(c) for c in escaped) + '"'


def dumps(node: Node, indent: int = 0) -> str:
    """Text format of a Node tree (strings quoted, words as written); parse(dumps(n)) rebuilds n."""
    pad = "  " * indent
    lines = []
    for name, values in node.fields.items():
        for value in values:
            if isinstance(value, Node):
                lines.append(f"{pad}{name} {{\n{dumps(value, indent + 1)}{pad}}}\n")
            else:
                lines.append(f"{pad}{name}: {_quote(value.text) if value.quoted else value.text}\n")
    return "".join(lines)

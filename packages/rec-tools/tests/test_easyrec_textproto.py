"""The schema-free text-format reader that carries EasyRec configs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_core.errors import ConfigError
from rec_tools.easyrec.textproto import Node, Scalar, dumps, parse, unused

_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
_WORDS = st.one_of(st.integers(-10**12, 10**12).map(str), st.sampled_from(["true", "false", "DEEP", "1e-05", "-0.5", "inf"]))


def _trees(depth: int = 3) -> st.SearchStrategy[Node]:
    scalar = st.one_of(st.text(max_size=12).map(lambda t: Scalar(t, True, 0)), _WORDS.map(lambda w: Scalar(w, False, 0)))
    value = scalar if depth == 0 else st.one_of(scalar, st.deferred(lambda: _trees(depth - 1)))

    def build(items: list[tuple[str, list]]) -> Node:
        node = Node()
        for name, values in items:
            for v in values:
                node.add(name, v)
        return node

    return st.lists(st.tuples(_NAMES, st.lists(value, min_size=1, max_size=3)), max_size=4).map(build)


def _shape(node: Node) -> dict:
    return {k: [_shape(v) if isinstance(v, Node) else (v.text, v.quoted) for v in vs] for k, vs in node.fields.items()}


@settings(max_examples=100, deadline=None)
@given(_trees())
def test_dumps_then_parse_gives_the_same_tree(tree: Node) -> None:
    assert _shape(parse(dumps(tree))) == _shape(tree)


def test_text_format_forms() -> None:
    text = """
    # a comment
    a: 1  b { c: "x\\003y\\x1dz" d: [1, 2.5, -3] e: FOO }   # trailing comment
    b < c: 'q' "r" >;
    f: [ {g: 1}, {g: 2} ], h: "\\u4e2d\\346\\226\\207"
    empty: []
    """
    root = parse(text)
    first, second = root.nodes("b", "")
    assert first.str("c", "") == "x\x03y\x1dz"
    assert [v.as_float("d") for v in first.scalars("d", "")] == [1.0, 2.5, -3.0]
    assert first.str("e", "") == "FOO" and second.str("c", "") == "qr"
    assert [n.int("g", "") for n in root.nodes("f", "")] == [1, 2]
    assert root.str("h", "") == "中文"
    assert root.has("empty") and root.all("empty") == []
    assert root.int("a", "") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a { b: 1", "line 1: a message opened on line 1 is never closed"),
        ("a: 1\nb: [1 2]", "line 2: expected ',' or ']' in the list of 'b'"),
        ("a: 1\n\nb 3", "line 3: expected ':' or '{' after field 'b'"),
        ("a: 1 ] ", "expected a field name, got ']'"),
        ('a: "\\q"', "unknown escape \\q"),
        ("a: 1 @", "line 1: unexpected character '@'"),
    ],
)
def test_syntax_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="cfg.txt: .*" + message.replace("[", r"\[").replace("]", r"\]").replace("\\q", r"\\q")):
        parse(text, "cfg.txt")


def test_typed_reads_name_the_field() -> None:
    root = parse("a: abc\nb { c: 1 }")
    with pytest.raises(ConfigError, match=r"x\.a: line 1: expected a number, got 'abc'"):
        root.float("a", "x")
    with pytest.raises(ConfigError, match=r"x\.b: line 2: expected a value, got a message"):
        root.str("b", "x")


def test_unused_lists_fields_nobody_read() -> None:
    root = parse("a: 1 b { c: 2 d: 3 } e { f: 1 } e { g: 2 }")
    root.int("a", "")
    root.node("b", "").int("c", "")  # type: ignore[union-attr]
    root.nodes("e", "")
    assert list(unused(root)) == [("b.d", 1), ("e[0].f", 1), ("e[1].g", 1)]

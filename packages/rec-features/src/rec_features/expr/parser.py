"""Tokenizer and precedence-climbing parser of the expression language, into an immutable tree.

Operators, lowest precedence first: `?:` (right-associative), `||`, `&&`, `|`, `&`, `== !=`,
`< <= > >=`, `<< >>`, `+ -`, `* / %`, prefix `- + ! ~`, `^` (power, right-associative, binds
tighter than a prefix minus on its left: `-2^2` is -4). Operands: numbers (`3`, `.5`, `1e-3`),
variables, the constants `_pi` and `_e`, function calls `f(a, b)` and parentheses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rec_features.expr.functions import FUNCTIONS

CONSTANTS = {"_pi": 3.141592653589793, "_e": 2.718281828459045}

_TOKEN = re.compile(
    r"(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\|\||&&|==|!=|<=|>=|<<|>>|[-+*/%^<>!~&|?:(),]))",
    re.ASCII,
)

# binary operators: precedence level (higher binds tighter)
BINARY = {
    "||": 1, "&&": 2, "|": 3, "&": 4, "==": 5, "!=": 5, "<": 6, "<=": 6, ">": 6, ">=": 6,
    "<<": 7, ">>": 7, "+": 8, "-": 8, "*": 9, "/": 9, "%": 9,
}
PREFIX = ("-", "+", "!", "~")


class ExprSyntaxError(ValueError):
    """Text that is not a valid expression; `position` is the character offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True)
class Node:
    """One tree node. kind: num (value), var (name), unary/binary (op, args), ternary (args), call (name, args)."""

    kind: str
    value: float = 0.0
    name: str = ""
    args: tuple[Node, ...] = ()


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExprSyntaxError(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind), pos))
        pos = m.end()
    tokens.append(("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self, op: str | None = None) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        if op is not None and tok[1] != op:
            raise ExprSyntaxError(f"expected {op!r}, found {tok[1] or 'the end'!r}", tok[2])
        self.i += 1
        return tok

    def expression(self) -> Node:
        cond = self.binary(1)
        if self.peek()[1] != "?":
            return cond
        self.take("?")
        then = self.expression()
        self.take(":")
        return Node("ternary", args=(cond, then, self.expression()))

    def binary(self, level: int) -> Node:
        left = self.prefix()
        while True:
            kind, op, _ = self.peek()
            if kind != "op" or BINARY.get(op, 0) < level:
                return left
            self.take()
            left = Node("binary", name=op, args=(left, self.binary(BINARY[op] + 1)))

    def prefix(self) -> Node:
        kind, op, _ = self.peek()
        if kind == "op" and op in PREFIX:
            self.take()
            return Node("unary", name=op, args=(self.prefix(),))
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.peek()[1] == "^":
            self.take()
            return Node("binary", name="^", args=(base, self.prefix()))  # right-assoc; 2^-1 allowed
        return base

    def primary(self) -> Node:
        kind, text, pos = self.take()
        if kind == "num":
            return Node("num", value=float(text))
        if kind == "name":
            if self.peek()[1] == "(":
                return self.call(text, pos)
            if text in CONSTANTS:
                return Node("num", value=CONSTANTS[text])
            if text in FUNCTIONS:
                raise ExprSyntaxError(f"function {text!r} needs arguments in parentheses", pos)
            return Node("var", name=text)
        if text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        raise ExprSyntaxError(f"expected a number, variable or '(', found {text or 'the end'!r}", pos)

    def call(self, name: str, pos: int) -> Node:
        if name not in FUNCTIONS:
            raise ExprSyntaxError(f"unknown function {name!r}", pos)
        self.take("(")
        args: list[Node] = []
        if self.peek()[1] != ")":
            args.append(self.expression())
            while self.peek()[1] == ",":
                self.take()
                args.append(self.expression())
        self.take(")")
        low, high = FUNCTIONS[name].arity
        if len(args) < low or (high is not None and len(args) > high):
            want = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
            raise ExprSyntaxError(f"{name}() takes {want} argument(s), got {len(args)}", pos)
        return Node("call", name=name, args=tuple(args))


def parse(text: str) -> Node:
    """The tree of an expression, or an ExprSyntaxError saying where it goes wrong."""
    p = _Parser(text)
    if p.peek()[0] == "end":
        raise ExprSyntaxError("empty expression", 0)
    node = p.expression()
    kind, tok, pos = p.peek()
    if kind != "end":
        raise ExprSyntaxError(f"unexpected {tok!r}", pos)
    return node


def variables_of(node: Node) -> set[str]:
    """Names of the variables a tree reads."""
    if node.kind == "var":
        return {node.name}
    return set().union(*(variables_of(a) for a in node.args)) if node.args else set()

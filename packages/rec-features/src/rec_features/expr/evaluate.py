"""Evaluation of a parsed expression over a batch: every node is one NumPy operation on all rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rec_features.expr.functions import FUNCTIONS, Context
from rec_features.expr.parser import Node
from rec_features.expr.ragged import Ragged, align


def _ints(x: np.ndarray) -> np.ndarray:
    """Numbers as int64 for the bitwise operators (truncated toward zero; NaN/inf become 0)."""
    return np.where(np.isfinite(x), x, 0.0).astype(np.int64)


def _shift(x: np.ndarray, n: np.ndarray, left: bool) -> np.ndarray:
    n = np.clip(_ints(n), 0, 63)
    return (np.left_shift(_ints(x), n) if left else np.right_shift(_ints(x), n)).astype(np.float64)


_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "%": np.fmod, "^": np.power,
    "==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
    "&&": lambda a, b: (a != 0) & (b != 0), "||": lambda a, b: (a != 0) | (b != 0),
    "&": lambda a, b: (_ints(a) & _ints(b)), "|": lambda a, b: (_ints(a) | _ints(b)),
    "<<": lambda a, b: _shift(a, b, True), ">>": lambda a, b: _shift(a, b, False),
}
_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "-": np.negative, "+": lambda x: x, "!": lambda x: x == 0, "~": lambda x: ~_ints(x),
}


def evaluate(
    node: Node, variables: dict[str, Ragged], rows: int, fill: float | None = None, rng: np.random.Generator | None = None
) -> Ragged:
    """The value of the tree for every row; variables hold one vector per row.

    Vectors combine elementwise; a one-element row broadcasts; unequal lengths are padded with
    `fill` (or raise `ShapeError`). Comparisons and logic give 1.0 / 0.0.
    """
    ctx = Context(rows, fill, rng if rng is not None else np.random.default_rng())
    with np.errstate(all="ignore"):
        return _eval(node, variables, ctx)


def _eval(node: Node, variables: dict[str, Ragged], ctx: Context) -> Ragged:
    if node.kind == "num":
        return Ragged.scalar(np.full(ctx.rows, node.value))
    if node.kind == "var":
        return variables[node.name]
    args = [_eval(a, variables, ctx) for a in node.args]
    if node.kind == "call":
        return FUNCTIONS[node.name].impl(args, ctx)
    data, lengths = align(args, ctx.fill)
    if node.kind == "unary":
        return Ragged(np.asarray(_UNARY[node.name](data[0]), np.float64), lengths)
    if node.kind == "binary":
        return Ragged(np.asarray(_BINARY[node.name](data[0], data[1]), np.float64), lengths)
    cond, then, other = data
    return Ragged(np.where(cond != 0, then, other), lengths)

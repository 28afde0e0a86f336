"""A small, safe expression language over NumPy columns (expr_feature): parse once, evaluate per batch.

No Python `eval`: text is tokenized and parsed into a tree of `Node`s (parser.py), and the tree
is evaluated over ragged per-row vectors with NumPy (evaluate.py, functions.py).
"""

from rec_features.expr.evaluate import Ragged, evaluate
from rec_features.expr.parser import ExprSyntaxError, Node, parse, variables_of

__all__ = ["ExprSyntaxError", "Node", "Ragged", "evaluate", "parse", "variables_of"]

"""The expression language (parser, evaluator) and expr_feature."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_core.errors import ConfigError
from rec_features.errors import InvalidFgInputError
from rec_features.expr import ExprSyntaxError, Ragged, evaluate, parse, variables_of
from rec_features.features.base import BaseFeature
from rec_features.testing import build_feature, sparse_rows
from rec_features.values import DenseValues

Feature = Callable[..., BaseFeature]


def value(text: str, **variables: list[float] | float) -> float | list[float]:
    """One-row evaluation: a number, or a list for a vector result."""
    env = {k: Ragged.from_flat(np.atleast_1d(np.asarray(v, float)), np.array([np.size(v)])) for k, v in variables.items()}
    out = evaluate(parse(text), env, 1)
    row = out.data[0, : out.lengths[0]].tolist()
    return row[0] if out.lengths[0] == 1 and not any(isinstance(v, list) for v in variables.values()) else row


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("-2^2", -4), ("2^3^2", 512), ("2^-1", 0.5), ("10 - 4 - 3", 3),
        ("8 / 4 / 2", 1), ("7 % 3", 1), ("-7 % 3", -1), ("1 < 2 ? 10 : 20", 10), ("0 ? 1 : 0 ? 2 : 3", 3),
        ("1 == 1 && 2 != 2", 0), ("0 || 3", 1), ("!0", 1), ("!5", 0), ("6 & 3 | 8", 10), ("1 << 4 >> 1", 8),
        ("~0", -1), ("1 + 2 < 4", 1), ("3 >= 3", 1), ("1e2 + .5", 100.5), ("_pi", math.pi), ("_e", math.e),
        ("sin(0) + cos(0)", 1), ("log(_e)", 1), ("ln(1)", 0), ("log2(8)", 3), ("log10(1000)", 3), ("exp(0)", 1),
        ("sqrt(16)", 4), ("sign(-3)", -1), ("abs(-2.5)", 2.5), ("floor(-1.5)", -2), ("ceil(1.2)", 2),
        ("trunc(-1.7)", -1), ("round(2.5)", 3), ("round(-2.5)", -3), ("rint(2.5)", 2), ("roundp(3.14159, 2)", 3.14),
        ("mod(-5, 3)", -2), ("sigmoid(0)", 0.5), ("min(3, 1, 2)", 1), ("max(3, 1, 2)", 3), ("sum(1, 2, 3)", 6),
        ("avg(1, 2, 3)", 2), ("isnan(0/0)", 1), ("atan(1) * 4", math.pi), ("tanh(0)", 0), ("asinh(0)", 0),
    ],
)
def test_scalar_semantics(text: str, expected: float) -> None:
    assert value(text) == pytest.approx(expected)


def test_vector_functions() -> None:
    a, b = [1.0, 2.0, 3.0], [2.0, 2.0, 5.0]
    assert value("len(a)", a=a) == [3.0]
    assert value("l2_norm(a)", a=[3.0, 4.0]) == [5.0]
    assert value("squared_norm(a)", a=a) == [14.0]
    assert value("dot(a, b)", a=a, b=b) == [21.0]
    assert value("euclid_dist(a, b)", a=a, b=b) == pytest.approx([math.sqrt(1 + 0 + 4)])
    assert value("reduce_sum(a) + reduce_prod(a) + reduce_min(a) + reduce_max(a) + reduce_mean(a)", a=a) == [6 + 6 + 1 + 3 + 2]
    assert value("variance(a)", a=a) == [1.0] and value("pop_variance(a)", a=a) == pytest.approx([2 / 3])
    assert value("std_dev(a)", a=a) == [1.0] and value("pop_std_dev(a)", a=a) == pytest.approx([math.sqrt(2 / 3)])
    assert value("corr(a, b)", a=a, b=b) == pytest.approx([np.corrcoef(a, b)[0, 1]])
    assert value("a * 2 + b", a=a, b=b) == [4.0, 6.0, 11.0]


def test_great_circle_distances_in_km() -> None:
    # Beijing (116.40, 39.90) to Shanghai (121.47, 31.23): about 1067 km
    assert value("haversine(116.40, 39.90, 121.47, 31.23)") == pytest.approx(1067, abs=5)
    assert value("sphere_dist(116.40, 39.90, 121.47, 31.23)") == pytest.approx(value("haversine(116.40, 39.90, 121.47, 31.23)"))
    assert value("haversine(0, 0, 0, 1)") == pytest.approx(2 * math.pi * 6371 / 360)


def test_rnd_is_uniform_per_row() -> None:
    out = evaluate(parse("rnd()"), {}, 1000, rng=np.random.default_rng(0))
    assert out.data.shape == (1000, 1) and 0 <= out.data.min() and out.data.max() < 1 and len(np.unique(out.data)) == 1000


@pytest.mark.parametrize(
    ("text", "where"),
    [("1 +", 3), ("(1", 2), ("foo(1)", 0), ("sin", 0), ("sin(1, 2)", 0), ("1 $ 2", 2), ("", 0), ("1 2", 2), ("a ? b", 5), ("max()", 0)],
)
def test_syntax_errors_say_where(text: str, where: int) -> None:
    with pytest.raises(ExprSyntaxError) as e:
        parse(text)
    assert e.value.position == where


def test_variables_of() -> None:
    assert variables_of(parse("a + sin(b) * _pi + max(c, 2)")) == {"a", "b", "c"}


# ---- property tests

@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_any_text_parses_or_is_a_syntax_error(text: str) -> None:
    try:
        parse(text)
    except ExprSyntaxError as e:
        assert 0 <= e.position <= len(text)


_leaf = st.one_of(st.integers(0, 9).map(str), st.sampled_from(["x", "y", "1.5", "(x)"]))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "^"]), children).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"({c})"),
    )


arith = st.recursive(_leaf, _combine, max_leaves=8)


def _reference(node: ast.AST, env: dict[str, float]) -> float:
    """Python's own grammar (with ** for ^) evaluated by walking its AST: an independent precedence reference."""
    if isinstance(node, ast.Expression):
        return _reference(node.body, env)
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        return -_reference(node.operand, env)
    assert isinstance(node, ast.BinOp)
    a, b = _reference(node.left, env), _reference(node.right, env)
    ops: dict[type, Callable[[float, float], float]] = {
        ast.Add: lambda p, q: p + q, ast.Sub: lambda p, q: p - q, ast.Mult: lambda p, q: p * q,
        ast.Div: lambda p, q: float(np.divide(p, q)), ast.Pow: lambda p, q: float(np.power(p, q)),
    }
    return ops[type(node.op)](a, b)


@settings(max_examples=300, deadline=None)
@given(arith, st.floats(-3, 3, allow_nan=False), st.floats(-3, 3, allow_nan=False))
def test_arithmetic_precedence_matches_python(text: str, x: float, y: float) -> None:
    with np.errstate(all="ignore"):
        try:
            expected = _reference(ast.parse(text.replace("^", "**"), mode="eval"), {"x": x, "y": y})
        except (OverflowError, ZeroDivisionError):
            return
    got = float(evaluate(parse(text), {"x": Ragged.scalar(np.array([x])), "y": Ragged.scalar(np.array([y]))}, 1).data[0, 0])
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=1, max_size=20))
def test_rows_are_independent(rows: list[tuple[float, float]]) -> None:
    # a batch gives each row what that row alone gives
    tree = parse("x > y ? sqrt(abs(x)) : max(x, y) * 2 - y ^ 2")
    xs, ys = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    batch = evaluate(tree, {"x": Ragged.scalar(xs), "y": Ragged.scalar(ys)}, len(rows)).data[:, 0]
    single = [evaluate(tree, {"x": Ragged.scalar(xs[i : i + 1]), "y": Ragged.scalar(ys[i : i + 1])}, 1).data[0, 0] for i in range(len(rows))]
    np.testing.assert_array_equal(batch, single)


# ---- expr_feature

EXPR = 'expr_feature {{ feature_name: "e" expression: "{}" variables: [{}] {} }}'


class TestExprFeature:
    def test_reference_example(self, feature: Feature) -> None:
        f = feature(EXPR.format("sigmoid(pv/(1+click))", '"user:pv", "item:click"', ""))
        assert f.inputs == ["pv", "click"] and not f.is_sparse and f.value_dim == 1
        out = f.process({"pv": pa.array([1.0, None, 4.0]), "click": pa.array([0, 1, 3])})
        assert isinstance(out, DenseValues)
        np.testing.assert_allclose(out.values[:, 0], [1 / (1 + math.exp(-1)), 0.5, 1 / (1 + math.exp(-1))], rtol=1e-6)

    def test_vectors_broadcast_and_value_dim(self, feature: Feature) -> None:
        f = feature(EXPR.format("a + b", '"user:a", "item:b"', 'value_dim: 3 separator: ","'))
        out = f.process({"a": pa.array(["1,2,3", "1", None, ""]), "b": pa.array(["1,1,1", "1,2,3", "5", "1"])})
        assert out.values.tolist() == [[2, 3, 4], [2, 3, 4], [5, 5, 5], [1, 1, 1]]

    def test_list_columns(self, feature: Feature) -> None:
        f = feature(EXPR.format("dot(a, b)", '"user:a", "item:b"', ""))
        out = f.process({"a": pa.array([[1.0, 2.0]]), "b": pa.array([[3.0, 4.0]])})
        assert out.values.tolist() == [[11.0]]

    def test_length_mismatch_without_fill_missing_names_row(self, feature: Feature) -> None:
        f = feature(EXPR.format("dot(a, b)", '"user:a", "item:b"', 'separator: ","'))
        with pytest.raises(InvalidFgInputError, match=r"'e'.*3 and 2 values.*fill_missing.*row 1"):
            f.process({"a": pa.array(["1", "1,2,3"]), "b": pa.array(["1", "1,2"])})

    def test_fill_missing_pads(self, feature: Feature) -> None:
        f = feature(EXPR.format("dot(a, b)", '"user:a", "item:b"', 'separator: "," fill_missing: 10'))
        assert f.process({"a": pa.array(["1,2,3"]), "b": pa.array(["1,2"])}).values.tolist() == [[1 + 4 + 30]]

    def test_wrong_result_width_names_row(self, feature: Feature) -> None:
        f = feature(EXPR.format("a", '"user:a"', 'separator: ","'))
        with pytest.raises(InvalidFgInputError, match=r"'e'.*2 value\(s\), value_dim is 1.*row 0"):
            f.process({"a": pa.array(["1,2"])})

    def test_non_numeric_input_is_named(self, feature: Feature) -> None:
        f = feature(EXPR.format("a", '"user:a"', ""))
        with pytest.raises(InvalidFgInputError, match=r"'e'.*'abc'"):
            f.process({"a": pa.array(["abc"])})

    def test_boundaries(self, feature: Feature) -> None:
        f = feature(EXPR.format("a * 2", '"user:a"', "boundaries: [1, 5] embedding_dim: 4"))
        assert f.is_sparse and f.num_embeddings == 3
        # 0.2 < 1 -> 0; 1 <= 2 < 5 -> 1; 18 >= 5 -> 2
        assert sparse_rows(f.process({"a": pa.array([0.1, 1.0, 9.0])})) == [[0], [1], [2]]

    def test_config_errors(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match=r"expr_feature 'e'.expression.*unknown function 'nope'.*position 0"):
            feature(EXPR.format("nope(a)", '"user:a"', ""))
        with pytest.raises(ConfigError, match=r"'e'.variables.*\['b'\]"):
            feature(EXPR.format("a + b", '"user:a"', ""))


def test_expr_feature_through_build_feature() -> None:
    f = build_feature(EXPR.format("x ^ 2", '"context:x"', ""))
    assert f.process({"x": pa.array([3], pa.int32())}).values.tolist() == [[9.0]]

"""The functions of the expression language: elementwise math, per-row vector reductions, distances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rec_features.expr.ragged import Ragged, align

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Context:
    """What a function may need besides its arguments."""

    rows: int
    fill: float | None
    rng: np.random.Generator


@dataclass(frozen=True)
class Function:
    """arity: (min, max or None for any number); impl: the arguments' values to the result."""

    arity: tuple[int, int | None]
    impl: Callable[[list[Ragged], Context], Ragged]


def _elementwise(fn: Callable[..., np.ndarray]) -> Callable[[list[Ragged], Context], Ragged]:
    def run(args: list[Ragged], ctx: Context) -> Ragged:
        data, lengths = align(args, ctx.fill)
        return Ragged(np.asarray(fn(*data), np.float64), lengths)

    return run


def _reduction(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> Callable[[list[Ragged], Context], Ragged]:
    """A per-row reduction fn(data, mask, count) of one vector into one number."""

    def run(args: list[Ragged], ctx: Context) -> Ragged:
        v = args[0]
        mask = v.mask
        return Ragged.scalar(fn(np.where(mask, v.data, 0.0), mask, v.lengths.astype(np.float64)))

    return run


def _pairwise(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> Callable[[list[Ragged], Context], Ragged]:
    """A per-row reduction fn(a, b, mask) of two aligned vectors into one number."""

    def run(args: list[Ragged], ctx: Context) -> Ragged:
        (a, b), lengths = align(args, ctx.fill)
        mask = np.arange(a.shape[1])[None, :] < lengths[:, None]
        return Ragged.scalar(fn(np.where(mask, a, 0.0), np.where(mask, b, 0.0), mask))

    return run


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _roundp(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    scale = np.power(10.0, np.trunc(p))
    return _round_half_away(x * scale) / scale


def _variance(data: np.ndarray, mask: np.ndarray, n: np.ndarray, ddof: int) -> np.ndarray:
    mean = data.sum(axis=1) / n
    sq = np.where(mask, (data - mean[:, None]) ** 2, 0.0).sum(axis=1)
    return sq / (n - ddof)


def _corr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n = mask.sum(axis=1)
    da = np.where(mask, a - (a.sum(axis=1) / n)[:, None], 0.0)
    db = np.where(mask, b - (b.sum(axis=1) / n)[:, None], 0.0)
    return (da * db).sum(axis=1) / np.sqrt((da * da).sum(axis=1) * (db * db).sum(axis=1))


def _great_circle(haversine: bool) -> Callable[..., np.ndarray]:
    """Distance in km between (lng1, lat1) and (lng2, lat2) given in degrees."""

    def dist(lng1: np.ndarray, lat1: np.ndarray, lng2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
        lng1, lat1, lng2, lat2 = (np.radians(x) for x in (lng1, lat1, lng2, lat2))
        if haversine:
            h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
            return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        c = np.sin(lat1) * np.sin(lat2) + np.cos(lat1) * np.cos(lat2) * np.cos(lng2 - lng1)
        return EARTH_RADIUS_KM * np.arccos(np.clip(c, -1.0, 1.0))

    return dist


def _random(args: list[Ragged], ctx: Context) -> Ragged:
    return Ragged.scalar(ctx.rng.random(ctx.rows))


def _fold(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    def run(*xs: np.ndarray) -> np.ndarray:
        out = xs[0]
        for x in xs[1:]:
            out = fn(out, x)
        return out

    return run


_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "log": np.log, "ln": np.log, "log2": np.log2, "log10": np.log10, "exp": np.exp, "sqrt": np.sqrt,
    "sign": np.sign, "abs": np.abs, "rint": np.rint, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc,
    "round": _round_half_away, "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)), "isnan": lambda x: np.isnan(x).astype(np.float64),
}

FUNCTIONS: dict[str, Function] = {name: Function((1, 1), _elementwise(fn)) for name, fn in _UNARY.items()}
FUNCTIONS.update(
    {
        "mod": Function((2, 2), _elementwise(np.fmod)),
        "roundp": Function((2, 2), _elementwise(_roundp)),
        "sphere_dist": Function((4, 4), _elementwise(_great_circle(haversine=False))),
        "haversine": Function((4, 4), _elementwise(_great_circle(haversine=True))),
        "min": Function((1, None), _elementwise(_fold(np.minimum))),
        "max": Function((1, None), _elementwise(_fold(np.maximum))),
        "sum": Function((1, None), _elementwise(_fold(np.add))),
        "avg": Function((1, None), _elementwise(lambda *xs: _fold(np.add)(*xs) / len(xs))),
        "rnd": Function((0, 0), _random),
        "len": Function((1, 1), _reduction(lambda d, m, n: n)),
        "l2_norm": Function((1, 1), _reduction(lambda d, m, n: np.sqrt((d * d).sum(axis=1)))),
        "squared_norm": Function((1, 1), _reduction(lambda d, m, n: (d * d).sum(axis=1))),
        "reduce_sum": Function((1, 1), _reduction(lambda d, m, n: d.sum(axis=1))),
        "reduce_mean": Function((1, 1), _reduction(lambda d, m, n: d.sum(axis=1) / n)),
        "reduce_prod": Function((1, 1), _reduction(lambda d, m, n: np.where(m, d, 1.0).prod(axis=1))),
        "reduce_min": Function((1, 1), _reduction(lambda d, m, n: np.where(m, d, np.inf).min(axis=1))),
        "reduce_max": Function((1, 1), _reduction(lambda d, m, n: np.where(m, d, -np.inf).max(axis=1))),
        "variance": Function((1, 1), _reduction(lambda d, m, n: _variance(d, m, n, 1))),
        "pop_variance": Function((1, 1), _reduction(lambda d, m, n: _variance(d, m, n, 0))),
        "std_dev": Function((1, 1), _reduction(lambda d, m, n: np.sqrt(_variance(d, m, n, 1)))),
        "pop_std_dev": Function((1, 1), _reduction(lambda d, m, n: np.sqrt(_variance(d, m, n, 0)))),
        "dot": Function((2, 2), _pairwise(lambda a, b, m: (a * b).sum(axis=1))),
        "euclid_dist": Function((2, 2), _pairwise(lambda a, b, m: np.sqrt(((a - b) ** 2).sum(axis=1)))),
        "corr": Function((2, 2), _pairwise(_corr)),
    }
)

"""TorchRec embedding-table configs for sparse features (pooled bags and unpooled sequences), shared by `embedding_name`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torchrec.modules.embedding_configs import EmbeddingBagConfig, EmbeddingConfig, PoolingType

from rec_core.errors import ConfigError
from rec_features.features.base import BaseFeature

_POOLING = {"sum": PoolingType.SUM, "mean": PoolingType.MEAN}


def parse_init_fn(spec: str, where: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """`nn.init.uniform_,a=-0.01,b=0.01` -> a callable initialising a weight in place."""
    if not spec:
        return None
    name, *args = [s.strip() for s in spec.split(",")]
    fn_name = name.rsplit(".", 1)[-1]
    fn = getattr(torch.nn.init, fn_name, None)
    if fn is None:
        raise ConfigError(where, f"unknown init_fn {name!r}; expected a torch.nn.init function")
    kwargs = {}
    for a in args:
        if "=" not in a:
            raise ConfigError(where, f"init_fn argument {a!r} is not key=value")
        k, v = a.split("=", 1)
        try:
            kwargs[k.strip()] = float(v)
        except ValueError as e:
            raise ConfigError(where, f"init_fn argument {a!r} is not a number") from e
    try:
        # bind now so a wrong keyword fails at config time, not when the table is first built
        inspect.signature(fn).bind_partial(**kwargs)
    except TypeError as e:
        raise ConfigError(where, f"init_fn {name!r} does not take {sorted(kwargs)}: {e}") from e
    return functools.partial(fn, **kwargs)


def _tables(
    features: Sequence[BaseFeature],
    name_suffix: str,
    dim: int | None,
    init_fn: str | None,
    shape: Callable[[BaseFeature, int], dict[str, Any]],
    make: Callable[..., Any],
) -> list[Any]:
    """One table config per `embedding_name`; features naming the same table must agree on `shape`."""
    tables: dict[str, Any] = {}
    shapes: dict[str, dict[str, Any]] = {}
    for f in features:
        if not f.is_sparse:
            continue
        table = f"{f.embedding_name}{name_suffix}"
        width = dim or f.embedding_dim
        if width <= 0:
            raise ConfigError(f"feature {f.name!r}.embedding_dim", "a sparse feature needs embedding_dim > 0")
        key = shape(f, width)
        if table in tables:
            if key != shapes[table]:
                first = tables[table].feature_names[0]
                raise ConfigError(
                    f"feature {f.name!r}.embedding_name",
                    f"shares table {table!r} but its {_describe(key)} differ from {first!r}'s {_describe(shapes[table])}",
                )
            tables[table].feature_names.append(f.name)
            continue
        shapes[table] = key
        tables[table] = make(
            f,
            name=table,
            embedding_dim=width,
            num_embeddings=f.num_embeddings,
            feature_names=[f.name],
            init_fn=parse_init_fn(init_fn, f"wide_init_fn (feature {f.name!r})")
            if init_fn
            else parse_init_fn(f.init_fn, f"feature {f.name!r}.init_fn"),
        )
    return list(tables.values())


def _describe(shape: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in shape.items())


def _pooling(f: BaseFeature) -> PoolingType:
    if f.pooling not in _POOLING:
        raise ConfigError(f"feature {f.name!r}.pooling", f"expected sum or mean, got {f.pooling!r}")
    return _POOLING[f.pooling]


def embedding_bag_configs(
    features: Sequence[BaseFeature],
    name_suffix: str = "",
    dim: int | None = None,
    init_fn: str | None = None,
) -> list[EmbeddingBagConfig]:
    """One EmbeddingBagConfig per table; features naming the same table must agree on its shape.

    `name_suffix` and `dim` build a separate set of tables (e.g. `_wide` tables of width 4);
    a non-empty `init_fn` replaces every feature's own (e.g. a model's `wide_init_fn`).
    """

    def make(f: BaseFeature, **kwargs: Any) -> EmbeddingBagConfig:
        return EmbeddingBagConfig(pooling=_pooling(f), **kwargs)

    return _tables(features, name_suffix, dim, init_fn, lambda f, w: {"rows": f.num_embeddings, "dim": w, "pooling": _pooling(f).value.lower()}, make)


def embedding_configs(
    features: Sequence[BaseFeature],
    name_suffix: str = "",
    dim: int | None = None,
    init_fn: str | None = None,
) -> list[EmbeddingConfig]:
    """One unpooled EmbeddingConfig (for an EmbeddingCollection) per table of the sparse features given.

    For sequence groups, as TorchEasyRec builds them: sequence id features and the group's
    non-sequence (query) id features look their ids up unpooled, and every feature naming the
    same `embedding_name` (a query `item_id` and its `click_seq__item_id` history) shares one
    table, which must then agree on rows and dim. Tables of an EmbeddingBagCollection are
    separate modules: the same name there is a different table.
    """
    return _tables(features, name_suffix, dim, init_fn, lambda f, w: {"rows": f.num_embeddings, "dim": w}, lambda f, **kw: EmbeddingConfig(**kw))

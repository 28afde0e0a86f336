"""TorchRec embedding-table configs for sparse features, shared by `embedding_name`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence

import torch
from torchrec.modules.embedding_configs import EmbeddingBagConfig, PoolingType

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
    tables: dict[str, EmbeddingBagConfig] = {}
    for f in features:
        if not f.is_sparse:
            continue
        table = f"{f.embedding_name}{name_suffix}"
        width = dim or f.embedding_dim
        if width <= 0:
            raise ConfigError(f"feature {f.name!r}.embedding_dim", "a sparse feature needs embedding_dim > 0")
        if f.pooling not in _POOLING:
            raise ConfigError(f"feature {f.name!r}.pooling", f"expected sum or mean, got {f.pooling!r}")
        if table in tables:
            t = tables[table]
            if (t.num_embeddings, t.embedding_dim, t.pooling) != (f.num_embeddings, width, _POOLING[f.pooling]):
                raise ConfigError(
                    f"feature {f.name!r}.embedding_name",
                    f"shares table {table!r} but its size/dim/pooling "
                    f"({f.num_embeddings}, {width}, {f.pooling}) differ from {t.feature_names[0]!r}'s",
                )
            t.feature_names.append(f.name)
            continue
        tables[table] = EmbeddingBagConfig(
            name=table,
            embedding_dim=width,
            num_embeddings=f.num_embeddings,
            feature_names=[f.name],
            pooling=_POOLING[f.pooling],
            init_fn=parse_init_fn(init_fn, f"wide_init_fn (feature {f.name!r})")
            if init_fn
            else parse_init_fn(f.init_fn, f"feature {f.name!r}.init_fn"),
        )
    return list(tables.values())

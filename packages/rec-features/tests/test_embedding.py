"""Embedding-table configs: sharing by embedding_name, shape conflicts, init_fn parsing."""

from __future__ import annotations

import functools

import pytest
import torch
from torchrec.modules.embedding_configs import PoolingType

from rec_core.errors import ConfigError
from rec_features.embedding import embedding_bag_configs, parse_init_fn
from rec_features.testing import build_feature


def id_feature(name: str, extra: str) -> str:
    return f'id_feature {{ feature_name: "{name}" expression: "user:{name}" {extra} }}'


class TestTables:
    def test_one_table_per_feature_by_default(self) -> None:
        fs = [build_feature(id_feature("a", "embedding_dim: 8 hash_bucket_size: 100")),
              build_feature(id_feature("b", 'embedding_dim: 4 num_buckets: 7 pooling: "mean"'))]
        tables = embedding_bag_configs(fs)
        assert [(t.name, t.num_embeddings, t.embedding_dim, t.feature_names) for t in tables] == [
            ("a_emb", 100, 8, ["a"]),
            ("b_emb", 7, 4, ["b"]),
        ]
        assert tables[0].pooling == PoolingType.SUM
        assert tables[1].pooling == PoolingType.MEAN

    def test_shared_embedding_name_merges_feature_names(self) -> None:
        fs = [build_feature(id_feature(n, 'embedding_name: "shared" embedding_dim: 8 hash_bucket_size: 100'))
              for n in ("a", "b", "c")]
        tables = embedding_bag_configs(fs)
        assert len(tables) == 1
        assert tables[0].name == "shared"
        assert tables[0].feature_names == ["a", "b", "c"]

    def test_conflicting_dims_name_the_feature(self) -> None:
        fs = [build_feature(id_feature("a", 'embedding_name: "s" embedding_dim: 8 hash_bucket_size: 100')),
              build_feature(id_feature("b", 'embedding_name: "s" embedding_dim: 4 hash_bucket_size: 100'))]
        with pytest.raises(ConfigError, match=r"feature 'b'.embedding_name.*shares table 's'.*'a'") as e:
            embedding_bag_configs(fs)
        assert e.value.path == "feature 'b'.embedding_name"

    def test_conflicting_sizes_name_the_feature(self) -> None:
        fs = [build_feature(id_feature("a", 'embedding_name: "s" embedding_dim: 8 hash_bucket_size: 100')),
              build_feature(id_feature("b", 'embedding_name: "s" embedding_dim: 8 hash_bucket_size: 99'))]
        with pytest.raises(ConfigError, match="feature 'b'"):
            embedding_bag_configs(fs)

    def test_dense_features_have_no_table(self) -> None:
        fs = [build_feature('raw_feature { feature_name: "p" expression: "user:p" }'),
              build_feature('raw_feature { feature_name: "q" expression: "user:q" boundaries: [1] embedding_dim: 2 }')]
        assert [t.name for t in embedding_bag_configs(fs)] == ["q_emb"]
        assert embedding_bag_configs(fs)[0].num_embeddings == 2

    def test_missing_embedding_dim(self) -> None:
        with pytest.raises(ConfigError, match="feature 'a'.embedding_dim"):
            embedding_bag_configs([build_feature(id_feature("a", "hash_bucket_size: 10"))])

    def test_bad_pooling(self) -> None:
        with pytest.raises(ConfigError, match="feature 'a'.pooling"):
            embedding_bag_configs([build_feature(id_feature("a", 'embedding_dim: 4 hash_bucket_size: 10 pooling: "max"'))])

    def test_wide_tables_use_suffix_dim_and_init(self) -> None:
        fs = [build_feature(id_feature("a", 'embedding_dim: 8 hash_bucket_size: 100 init_fn: "nn.init.zeros_"'))]
        (wide,) = embedding_bag_configs(fs, "_wide", 4, "nn.init.constant_,val=0.5")
        assert (wide.name, wide.embedding_dim) == ("a_emb_wide", 4)
        w = torch.empty(3, 4)
        wide.init_fn(w)
        assert torch.all(w == 0.5)
        # without an override the feature's own init_fn is used
        (own,) = embedding_bag_configs(fs, "_wide", 4)
        own.init_fn(w)
        assert torch.all(w == 0)


class TestInitFn:
    def test_parses_module_path_and_keywords(self) -> None:
        fn = parse_init_fn("nn.init.uniform_,a=-0.01,b=0.01", "where")
        assert isinstance(fn, functools.partial)
        assert fn.func is torch.nn.init.uniform_
        assert fn.keywords == {"a": -0.01, "b": 0.01}
        w = torch.empty(100, 4)
        fn(w)
        assert w.min() >= -0.01 and w.max() <= 0.01

    def test_bare_name_and_spaces(self) -> None:
        fn = parse_init_fn(" normal_ , mean=1 , std=0 ", "where")
        w = torch.empty(4)
        fn(w)
        assert torch.all(w == 1)

    def test_empty_is_none(self) -> None:
        assert parse_init_fn("", "where") is None

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("nn.init.no_such_", "unknown init_fn"),
            ("nn.init.uniform_,a", "not key=value"),
            ("nn.init.uniform_,a=low", "not a number"),
            ("nn.init.uniform_,scale=1", "does not take"),
        ],
    )
    def test_errors_name_the_field(self, spec: str, message: str) -> None:
        with pytest.raises(ConfigError, match=f"feature 'x'.init_fn: .*{message}"):
            parse_init_fn(spec, "feature 'x'.init_fn")

    def test_feature_init_fn_reaches_the_table(self) -> None:
        f = build_feature(id_feature("a", 'embedding_dim: 4 hash_bucket_size: 10 init_fn: "nn.init.constant_,val=2"'))
        (table,) = embedding_bag_configs([f])
        w = torch.empty(10, 4)
        table.init_fn(w)
        assert torch.all(w == 2)

    def test_bad_feature_init_fn_names_feature(self) -> None:
        f = build_feature(id_feature("a", 'embedding_dim: 4 hash_bucket_size: 10 init_fn: "nn.init.bogus"'))
        with pytest.raises(ConfigError, match="feature 'a'.init_fn"):
            embedding_bag_configs([f])

"""Zero-collision hashing, feature side: raw 63-bit hash ids, table size, fg.json, managed-collision modules."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
import torch
from torchrec.modules.mc_modules import DistanceLFU_EvictionPolicy, LFU_EvictionPolicy, LRU_EvictionPolicy, ManagedCollisionCollection
from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

from rec_core.errors import ConfigError
from rec_features.bucketize import ZCH_HASH_SIZE
from rec_features.embedding import embedding_bag_configs
from rec_features.features import FG_NONE
from rec_features.fg_json import create_fg_json, features_from_fg_json
from rec_features.hashing import std_hash
from rec_features.testing import build_feature, sparse_rows
from rec_features.zch import managed_collision_modules

ZCH = 'id_feature {{ feature_name: "{}" expression: "user:c" embedding_dim: 4 hash_bucket_size: 10 zch {{ zch_size: 50 {} }} }}'


def test_ids_are_raw_63_bit_hashes_and_the_table_is_zch_size() -> None:
    f = build_feature(ZCH.format("u", ""))
    out = f.process({"c": pa.array(["abc", None, "中\x1dx"])})
    expected = (std_hash(pa.array(["abc", "中", "x"])) % (2**63 - 1)).astype("int64").tolist()
    assert sparse_rows(out) == [[expected[0]], [], expected[1:]]
    assert f.num_embeddings == 50
    (table,) = embedding_bag_configs([f])
    assert table.num_embeddings == 50


def test_fg_json_gives_pyfg_hash_size_and_round_trips() -> None:
    f = build_feature(ZCH.format("u", "lru { decay_exponent: 2 }"))
    entry = f.fg_json()
    assert entry["hash_bucket_size"] == ZCH_HASH_SIZE and "zch" in entry
    (rebuilt,) = features_from_fg_json(json.loads(json.dumps(create_fg_json([f]))))
    assert rebuilt.num_embeddings == 50 and rebuilt.config.zch.WhichOneof("eviction_policy") == "lru"
    cols = {"c": pa.array(["a", "b"])}
    assert sparse_rows(rebuilt.process(cols)) == sparse_rows(f.process(cols))


def test_fg_none_accepts_raw_hashes() -> None:
    f = build_feature(ZCH.format("u", ""), FG_NONE)
    assert sparse_rows(f.process({"u": pa.array([2**62, 3])})) == [[2**62], [3]]


@pytest.mark.parametrize(
    ("policy", "cls"), [("", LFU_EvictionPolicy), ("lru {}", LRU_EvictionPolicy), ("distance_lfu { decay_exponent: 0.5 }", DistanceLFU_EvictionPolicy)]
)
def test_managed_collision_modules_remap_into_the_table(policy: str, cls: type) -> None:
    features = [build_feature(ZCH.format("u", policy)), build_feature('id_feature { feature_name: "p" expression: "user:p" embedding_dim: 4 hash_bucket_size: 10 }')]
    modules = managed_collision_modules(features)
    assert list(modules) == ["u_emb"]
    assert isinstance(modules["u_emb"]._eviction_policy, cls)
    tables = [t for t in embedding_bag_configs(features) if t.name in modules]
    mcc = ManagedCollisionCollection(modules, tables)
    ids = torch.from_numpy(features[0].process({"c": pa.array([f"v{i}" for i in range(200)])}).values)
    mcc.train()
    remapped = mcc(KeyedJaggedTensor.from_lengths_sync(["u"], ids, torch.ones(200, dtype=torch.int32)))
    values = remapped["u"].values()
    assert values.min() >= 0 and values.max() < 50


def test_shared_table_needs_equal_settings() -> None:
    a = build_feature(ZCH.format("a", "").replace('embedding_dim: 4', 'embedding_dim: 4 embedding_name: "t"'))
    b = build_feature(ZCH.format("b", "lru {}").replace('embedding_dim: 4', 'embedding_dim: 4 embedding_name: "t"'))
    with pytest.raises(ConfigError, match=r"'b'.zch.*shares table 't'"):
        managed_collision_modules([a, b])


def test_unsupported_zch_options() -> None:
    with pytest.raises(ConfigError, match="threshold_filtering_func"):
        build_feature(ZCH.format("u", 'threshold_filtering_func: "lambda x: x"'))
    with pytest.raises(ConfigError, match="dynamicemb"):
        build_feature('id_feature { feature_name: "u" expression: "user:c" embedding_dim: 4 dynamicemb { max_capacity: 10 } }')


def test_zch_on_other_types() -> None:
    f = build_feature('combo_feature { feature_name: "c" expression: ["user:a", "user:b"] embedding_dim: 4 zch { zch_size: 7 } }')
    assert f.num_embeddings == 7
    out = f.process({"a": pa.array(["x"]), "b": pa.array(["y"])})
    assert out.values.tolist() == (std_hash(pa.array(["x_y"])) % (2**63 - 1)).astype("int64").tolist()

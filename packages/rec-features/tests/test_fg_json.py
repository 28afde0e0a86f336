"""fg.json: features rebuilt from the document compute the same values as the originals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from rec_core.errors import ConfigError
from rec_features.features import FG_NONE, FG_NORMAL
from rec_features.fg_json import create_fg_json, features_from_fg_json, load_fg_json, write_fg_json
from rec_features.testing import build_feature
from rec_features.values import DenseValues, SparseValues

NORMAL_FEATURES = [
    'id_feature { feature_name: "hashed" expression: "user:uid" embedding_dim: 4 hash_bucket_size: 100 default_value: "abc" }',
    'id_feature { feature_name: "vocab" expression: "item:cat" embedding_dim: 4 vocab_list: ["x", "y", "中"] default_value: "x" separator: "|" }',
    'id_feature { feature_name: "vocab_dbv" expression: "item:cat" embedding_dim: 4 vocab_list: ["x", "y"] default_bucketize_value: 1 }',
    'id_feature { feature_name: "vdict" expression: "item:cat" embedding_dim: 4 vocab_dict { key: "x" value: 2 } vocab_dict { key: "y" value: 3 } }',
    'id_feature { feature_name: "weighted" expression: "item:kv" embedding_dim: 4 num_buckets: 10 default_bucketize_value: 3 weighted: true }',
    'raw_feature { feature_name: "zs" expression: "user:vec" value_dim: 2 separator: "," normalizer: "method=zscore,mean=1,standard_deviation=2" }',
    'raw_feature { feature_name: "bucketed" expression: "user:age" boundaries: [0.05, 0.15, 0.25] embedding_dim: 4 default_value: "0.1" }',
    'raw_feature { feature_name: "logged" expression: "user:age" normalizer: "method=log10,threshold=0.01,default=-3" }',
]

NORMAL_ROWS = pa.record_batch(
    {
        "uid": pa.array(["abc", None, "héllo", ""]),
        "cat": pa.array(["x|y", "q", None, "中|y|x"]),
        "kv": pa.array(["1:0.5\x1d12:2", "3", None, "9:4"]),
        "vec": pa.array(["1,3", "5,7", "0,0", "-1,1"]),
        "age": pa.array([0.05, None, 0.2, 1000.0]),
    }
)

NONE_FEATURES = [
    'id_feature { feature_name: "ids" expression: "user:ids" embedding_dim: 4 num_buckets: 10 fg_encoded_default_value: "4\x035" }',
    'raw_feature { feature_name: "dense" expression: "user:dense" value_dim: 2 fg_encoded_default_value: "7\x038" }',
]

NONE_ROWS = pa.record_batch({"ids": pa.array(["1\x032", None, ""]), "dense": pa.array(["1\x032", None, "3\x034"])})


def assert_same_values(a: object, b: object) -> None:
    assert type(a) is type(b)
    if isinstance(a, SparseValues):
        assert isinstance(b, SparseValues)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.lengths, b.lengths)
        assert (a.weights is None) == (b.weights is None)
        if a.weights is not None:
            np.testing.assert_array_equal(a.weights, b.weights)
    else:
        assert isinstance(a, DenseValues) and isinstance(b, DenseValues)
        np.testing.assert_array_equal(a.values, b.values)


def columns(rb: pa.RecordBatch) -> dict[str, pa.Array]:
    return {n: rb.column(i) for i, n in enumerate(rb.schema.names)}


@pytest.mark.parametrize(
    ("texts", "rows", "mode"), [(NORMAL_FEATURES, NORMAL_ROWS, FG_NORMAL), (NONE_FEATURES, NONE_ROWS, FG_NONE)]
)
def test_round_trip_through_json_text(texts: list[str], rows: pa.RecordBatch, mode: int) -> None:
    originals = [build_feature(t, mode) for t in texts]
    # through real JSON text: control characters and unicode must survive encoding
    doc = json.loads(json.dumps(create_fg_json(originals), ensure_ascii=False))
    rebuilt = features_from_fg_json(doc, mode)
    assert [f.name for f in rebuilt] == [f.name for f in originals]
    for a, b in zip(originals, rebuilt):
        assert a.is_sparse == b.is_sparse and a.value_dim == b.value_dim
        if a.is_sparse:
            assert a.num_embeddings == b.num_embeddings
        assert_same_values(a.process(columns(rows)), b.process(columns(rows)))


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    originals = [build_feature(t) for t in NORMAL_FEATURES]
    path = tmp_path / "export" / "fg.json"
    path.parent.mkdir()
    write_fg_json(originals, str(path))
    rebuilt = load_fg_json(str(path))
    for a, b in zip(originals, rebuilt):
        assert_same_values(a.process(columns(NORMAL_ROWS)), b.process(columns(NORMAL_ROWS)))
    # written as UTF-8 text, not \\u escapes
    assert "中" in path.read_text(encoding="utf-8")


def test_document_shape() -> None:
    doc = create_fg_json([build_feature(NORMAL_FEATURES[0]), build_feature(NORMAL_FEATURES[6])])
    hashed, bucketed = doc["features"]
    assert hashed["feature_type"] == "id_feature"
    assert hashed["expression"] == "user:uid"
    assert hashed["hash_bucket_size"] == 100
    assert hashed["separator"] == "\x1d"
    assert hashed["value_type"] == "string"
    assert bucketed["feature_type"] == "raw_feature"
    assert bucketed["boundaries"] == pytest.approx([0.05, 0.15, 0.25])
    num = create_fg_json([build_feature(NORMAL_FEATURES[4])])["features"][0]
    assert num["num_buckets"] == 10 and num["value_type"] == "int64"


def test_unknown_feature_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"features\[1\].feature_type.*'magic_feature'"):
        features_from_fg_json(
            {
                "features": [
                    {"feature_type": "raw_feature", "feature_name": "a", "expression": "user:a"},
                    {"feature_type": "magic_feature"},
                ]
            }
        )


def test_bad_field_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"features\[0\]"):
        features_from_fg_json({"features": [{"feature_type": "raw_feature", "feature_name": "a", "value_dim": "wide"}]})

"""fg.json: features rebuilt from the document compute the same values as the originals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from rec_core.errors import ConfigError
from rec_features.features import FG_DAG, FG_NONE, FG_NORMAL
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


SEQUENCE_PIPELINE = [
    'id_feature { feature_name: "uid" expression: "user:uid" embedding_dim: 4 hash_bucket_size: 100 }',
    'sequence_feature { sequence_name: "click_seq" sequence_length: 3 sequence_delim: "|" sequence_pk: "user:clicks" '
    'features { id_feature { feature_name: "iid" expression: "item:iid" embedding_dim: 4 hash_bucket_size: 100 } } '
    'features { id_feature { feature_name: "tag" expression: "item:tag" embedding_dim: 4 num_buckets: 10 value_dim: 0 } } '
    'features { raw_feature { feature_name: "ts" expression: "user:ts" value_dim: 2 } } }',
    'sequence_raw_feature { feature_name: "prices" expression: "user:prices" sequence_length: 2 boundaries: [1, 2] embedding_dim: 4 }',
    'raw_feature { feature_name: "log_price" expression: "item:price" normalizer: "method=log10,threshold=1,default=-1" stub_type: true }',
    'raw_feature { feature_name: "price_level" expression: "feature:log_price" boundaries: [0, 1, 2] embedding_dim: 4 }',
]

SEQUENCE_ROWS = pa.record_batch(
    {
        "uid": pa.array(["a", None, "中"]),
        "click_seq__iid": pa.array(["x|y|z|w", "", None]),
        "click_seq__tag": pa.array(["1\x1d2|3|4|5", "", "6"]),
        "click_seq__ts": pa.array(["1\x1d2|3\x1d4|5\x1d6|7\x1d8", "", "9\x1d9"]),
        "prices": pa.array(["0.5;1.5;2.5", None, "3"]),
        "price": pa.array([5.0, 50.0, None]),
    }
)


def pipeline_features(texts: list[str], mode: int) -> list:
    from google.protobuf import text_format

    from rec_core.protos import feature_pb2
    from rec_features.features import create_features

    return create_features([text_format.Parse(t, feature_pb2.FeatureConfig()) for t in texts], mode)


@pytest.mark.parametrize("mode", [FG_NORMAL, FG_DAG])
def test_pipeline_and_fg_json_compute_the_same_batch(mode: int) -> None:
    from rec_features.parser import FeatureParser

    originals = pipeline_features(SEQUENCE_PIPELINE, mode)
    rebuilt = features_from_fg_json(json.loads(json.dumps(create_fg_json(originals), ensure_ascii=False)), mode)
    assert [(f.name, f.is_sequence, f.stub_type) for f in rebuilt] == [(f.name, f.is_sequence, f.stub_type) for f in originals]
    a, b = FeatureParser(originals), FeatureParser(rebuilt)
    assert a.feature_columns() == b.feature_columns()
    va, vb = a.compute(SEQUENCE_ROWS), b.compute(SEQUENCE_ROWS)
    assert list(va) == list(vb) == ["uid", "click_seq__iid", "click_seq__tag", "click_seq__ts", "prices", "price_level"]
    for name in va:
        x, y = va[name], vb[name]
        assert type(x) is type(y)
        for field in ("values", "lengths", "seq_lengths", "key_lengths"):
            if hasattr(x, field):
                np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=f"{name}.{field}")


def test_sequence_document_shape() -> None:
    doc = create_fg_json(pipeline_features(SEQUENCE_PIPELINE, FG_NORMAL))
    uid, group, prices, stub, level = doc["features"]
    assert uid["feature_name"] == "uid"
    assert {k: group[k] for k in ("sequence_name", "sequence_length", "sequence_delim", "sequence_pk")} == {
        "sequence_name": "click_seq",
        "sequence_length": 3,
        "sequence_delim": "|",
        "sequence_pk": "user:clicks",
    }
    iid, tag, ts = group["features"]
    # sub-features keep their own names and expressions; an empty default is "0" in a sequence
    assert (iid["feature_type"], iid["feature_name"], iid["expression"], iid["default_value"]) == ("id_feature", "iid", "item:iid", "0")
    assert iid["value_dim"] == 1 and tag["value_dim"] == 0 and ts["feature_type"] == "raw_feature"
    assert (prices["feature_type"], prices["sequence_length"], prices["sequence_delim"]) == ("sequence_raw_feature", 2, ";")
    assert stub["stub_type"] is True and "stub_type" not in level
    assert level["expression"] == "feature:log_price"


def test_default_sequence_pk() -> None:
    doc = create_fg_json(
        pipeline_features(
            ['sequence_feature { sequence_name: "s" sequence_length: 2 features { raw_feature { feature_name: "r" expression: "user:r" } } }'],
            FG_NORMAL,
        )
    )
    assert doc["features"][0]["sequence_pk"] == "user:s"


def test_fg_none_sequences_round_trip() -> None:
    texts = [
        'sequence_feature { sequence_name: "s" sequence_length: 5 features { id_feature { feature_name: "c" embedding_dim: 4 '
        'num_buckets: 10 value_dim: 0 fg_encoded_default_value: "0" } } features { raw_feature { feature_name: "r" value_dim: 2 } } }'
    ]
    rows = pa.record_batch({"s__c": pa.array(["1\x032;3", None]), "s__r": pa.array(["1\x032;3\x034", "5\x036"])})
    originals = pipeline_features(texts, FG_NONE)
    rebuilt = features_from_fg_json(create_fg_json(originals), FG_NONE)
    for a, b in zip(originals, rebuilt):
        x, y = a.process(columns(rows)), b.process(columns(rows))
        np.testing.assert_array_equal(x.values, y.values)
        np.testing.assert_array_equal(x.seq_lengths, y.seq_lengths)


def test_loading_goes_through_the_registry(tmp_path: Path) -> None:
    """A plugin type whose fg.json keys differ from its config fields reads its own entries."""
    from rec_core.protos import feature_pb2
    from rec_core.registry import registry
    from rec_features.features.raw_feature import RawFeature

    class ScaledFeature(RawFeature):
        @classmethod
        def config_from_fg_json(cls, entry: dict, kind: str, where: str) -> object:
            return feature_pb2.RawFeature(
                feature_name=entry["name"], expression=entry["input"], normalizer=f"method=minmax,min=0,max={entry['scale']}"
            )

        def fg_json(self) -> dict:
            return {"feature_type": "test_scaled_feature", "name": self.name, "input": self.config.expression, "scale": 4}

    registry("rec.features").register("test_scaled_feature", ScaledFeature)
    path = tmp_path / "fg.json"
    path.write_text(json.dumps({"features": [{"feature_type": "test_scaled_feature", "name": "s", "input": "user:x", "scale": 4}]}))
    (f,) = load_fg_json(str(path))
    assert type(f) is ScaledFeature and f.name == "s"
    assert f.process({"x": pa.array([2.0])}).values.tolist() == [[0.5]]
    assert create_fg_json([f])["features"][0]["scale"] == 4


def test_bad_documents_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"features\[0\].feature_type.*missing"):
        features_from_fg_json({"features": [{"feature_name": "a"}]})
    with pytest.raises(ConfigError, match=r"fg.json features"):
        features_from_fg_json({"features": "nope"})
    bad = tmp_path / "fg.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_fg_json(str(bad))

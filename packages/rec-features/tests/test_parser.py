"""FeatureParser: record batch -> Batch (KJT, KeyedTensor, labels, weights, reserved columns)."""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pytest
import torch

from rec_core.batch import BASE_DATA_GROUP
from rec_core.errors import DataError
from rec_features.errors import InvalidFgInputError
from rec_features.features import FG_NORMAL
from rec_features.parser import FeatureParser
from rec_features.testing import build_feature

FEATURES = [
    'id_feature { feature_name: "user" expression: "user:uid" embedding_dim: 4 hash_bucket_size: 100 }',
    'raw_feature { feature_name: "price" expression: "item:price" }',
    'id_feature { feature_name: "tags" expression: "item:tags" embedding_dim: 4 num_buckets: 10 }',
    'raw_feature { feature_name: "vec" expression: "item:vec" value_dim: 2 separator: "," }',
    'raw_feature { feature_name: "age" expression: "user:age" boundaries: [18, 30] embedding_dim: 4 }',
]


def make_parser(**kwargs: object) -> FeatureParser:
    return FeatureParser([build_feature(t, FG_NORMAL) for t in FEATURES], **kwargs)  # type: ignore[arg-type]


def record_batch() -> pa.RecordBatch:
    return pa.record_batch(
        {
            "uid": pa.array(["abc", None, "xyz"]),
            "price": pa.array([1.5, 2.5, None]),
            "tags": pa.array(["1\x1d2", "", "9"]),
            "vec": pa.array(["1,2", "3,4", "5,6"]),
            "age": pa.array([10.0, 18.0, 40.0]),
            "label": pa.array([0, 1, 1], pa.int32()),
            "ctr": pa.array([0.5, 1.0, 0.0], pa.float64()),
            "weight": pa.array([1, 2, 3]),
            "request_id": pa.array(["r1", "r2", "r3"]),
        }
    )


class TestSparse:
    def test_key_order_lengths_values(self) -> None:
        batch = make_parser()(record_batch())
        kjt = batch.sparse_features[BASE_DATA_GROUP]
        # sparse features in config order; dense ones are not in the KJT
        assert kjt.keys() == ["user", "tags", "age"]
        assert kjt.stride() == 3
        assert kjt.lengths().tolist() == [1, 0, 1, 2, 0, 1, 1, 1, 1]
        assert kjt.values().tolist() == [33, 13, 1, 2, 9, 0, 1, 2]
        assert kjt.values().dtype == torch.int64
        assert kjt.weights_or_none() is None
        per_key = kjt.to_dict()
        assert per_key["tags"].values().tolist() == [1, 2, 9]
        assert per_key["age"].lengths().tolist() == [1, 1, 1]

    def test_weights_only_when_some_feature_is_weighted(self) -> None:
        features = [
            build_feature('id_feature { feature_name: "a" expression: "user:a" embedding_dim: 4 num_buckets: 10 weighted: true }'),
            build_feature('id_feature { feature_name: "b" expression: "user:b" embedding_dim: 4 num_buckets: 10 }'),
        ]
        parser = FeatureParser(features)
        batch = parser(pa.record_batch({"a": pa.array(["1:0.5\x1d2:3", None]), "b": pa.array(["4", "5"])}))
        kjt = batch.sparse_features[BASE_DATA_GROUP]
        assert kjt.values().tolist() == [1, 2, 4, 5]
        # a KJT carries one weights tensor for all its keys: unweighted features get weight 1
        assert kjt.weights().tolist() == [0.5, 3.0, 1.0, 1.0]
        assert kjt.weights().dtype == torch.float32


class TestDense:
    def test_keyed_tensor(self) -> None:
        batch = make_parser()(record_batch())
        kt = batch.dense_features[BASE_DATA_GROUP]
        assert kt.keys() == ["price", "vec"]
        assert kt.length_per_key() == [1, 2]
        assert kt.values().dtype == torch.float32
        assert kt.values().tolist() == [[1.5, 1, 2], [2.5, 3, 4], [0.0, 5, 6]]
        assert kt.to_dict()["vec"].tolist() == [[1, 2], [3, 4], [5, 6]]


class TestLabelsWeightsReserves:
    def test_label_dtypes(self) -> None:
        batch = make_parser(label_fields=["label", "ctr"])(record_batch())
        assert batch.labels["label"].dtype == torch.int64
        assert batch.labels["label"].tolist() == [0, 1, 1]
        assert batch.labels["ctr"].dtype == torch.float32
        assert batch.labels["ctr"].tolist() == [0.5, 1.0, 0.0]
        assert batch.batch_size == 3

    def test_sample_weights_are_float(self) -> None:
        batch = make_parser(sample_weight_fields=["weight"])(record_batch())
        assert batch.sample_weights["weight"].dtype == torch.float32
        assert batch.sample_weights["weight"].tolist() == [1.0, 2.0, 3.0]

    def test_reserved_columns_pass_through(self) -> None:
        batch = make_parser(reserved_columns=["request_id", "uid"])(record_batch())
        assert batch.reserves.schema.names == ["request_id", "uid"]
        assert batch.reserves.column(0).to_pylist() == ["r1", "r2", "r3"]

    def test_missing_label_names_the_column(self) -> None:
        with pytest.raises(DataError, match="'click'.*missing"):
            make_parser(label_fields=["click"])(record_batch())

    def test_null_label_is_an_error(self) -> None:
        rb = record_batch().set_column(5, "label", pa.array([0, None, 1], pa.int32()))
        with pytest.raises(DataError, match="'label'.*null"):
            make_parser(label_fields=["label"])(rb)

    def test_missing_reserved_column_names_it(self) -> None:
        with pytest.raises(DataError, match="sample_id"):
            make_parser(reserved_columns=["sample_id"])(record_batch())

    def test_missing_feature_input_names_feature_and_column(self) -> None:
        rb = record_batch().drop_columns(["tags"])
        with pytest.raises(InvalidFgInputError, match="'tags'.*input column 'tags' is missing"):
            make_parser()(rb)


class TestColumnsAndForms:
    def test_input_columns(self) -> None:
        parser = make_parser(label_fields=["label"], sample_weight_fields=["weight"], reserved_columns=["uid", "rid"])
        assert parser.feature_columns() == ["uid", "price", "tags", "vec", "age"]
        # each column once, features first
        assert parser.input_columns() == ["uid", "price", "tags", "vec", "age", "label", "weight", "rid"]

    def test_table_and_record_batch_agree(self) -> None:
        parser = make_parser(label_fields=["label"])
        rb = record_batch()
        table = pa.Table.from_batches([rb.slice(0, 1), rb.slice(1)])  # two chunks
        a, b = parser(rb), parser(table)
        assert torch.equal(a.sparse_features[BASE_DATA_GROUP].values(), b.sparse_features[BASE_DATA_GROUP].values())
        assert torch.equal(a.dense_features[BASE_DATA_GROUP].values(), b.dense_features[BASE_DATA_GROUP].values())
        assert torch.equal(a.labels["label"], b.labels["label"])

    def test_compute_returns_numpy_values(self) -> None:
        values = make_parser().compute(record_batch())
        assert list(values) == ["user", "price", "tags", "vec", "age"]
        assert isinstance(values["vec"].values, np.ndarray)

    def test_to_dict_is_the_export_signature(self) -> None:
        flat = make_parser(label_fields=["label"])(record_batch()).to_dict()
        assert flat["user.values"].tolist() == [33, 13]
        assert flat["user.lengths"].tolist() == [1, 0, 1]
        assert flat["vec"].shape == (3, 2)
        assert "label" in flat

    def test_parser_pickles(self) -> None:
        # DataLoader workers receive the parser by pickling
        parser = pickle.loads(pickle.dumps(make_parser(label_fields=["label"])))
        assert parser(record_batch()).labels["label"].tolist() == [0, 1, 1]

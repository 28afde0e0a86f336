"""Data groups and parsing of a sampler's output (batch + sampled item rows)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pytest
import torch
from google.protobuf import text_format
from hypothesis import given
from hypothesis import strategies as st

from rec_core.batch import BASE_DATA_GROUP, CROSS_NEG_DATA_GROUP, NEG_DATA_GROUP
from rec_core.errors import DataError
from rec_core.protos import data_pb2, feature_pb2, sampler_pb2
from rec_features.features import FG_DAG, FG_NONE, FG_NORMAL, create_features
from rec_features.parser import FeatureParser
from rec_features.sampled import (
    assign_data_groups,
    data_group_for,
    negative_owners,
    sampler_attr_fields,
)
from rec_features.testing import build_feature

FEATURES = [
    'id_feature { feature_name: "user" expression: "user:uid" embedding_dim: 4 num_buckets: 100 }',
    'id_feature { feature_name: "item" expression: "item:iid" embedding_dim: 4 num_buckets: 100 }',
    'raw_feature { feature_name: "price" expression: "item:price" }',
    'raw_feature { feature_name: "age" expression: "user:age" }',
]
ATTR_FIELDS = ["iid", "price"]


@dataclass
class Sampled:
    """Stands in for rec_data's SampledBatch (the parser only relies on these members)."""

    batch: pa.RecordBatch
    negatives: pa.RecordBatch
    hard_neg_indices: np.ndarray | None = None
    force_base_data_group: bool = False
    masked_neg_indices: np.ndarray | None = None

    def padded(self) -> pa.RecordBatch:
        n = self.negatives.num_rows
        cols = []
        for field in self.batch.schema:
            bottom = (
                self.negatives.column(field.name).cast(field.type)
                if field.name in self.negatives.schema.names
                else pa.nulls(n, field.type)
            )
            cols.append(pa.concat_arrays([self.batch.column(field.name), bottom]))
        return pa.record_batch(cols, schema=self.batch.schema)


def make_parser(attr_fields: list[str] = ATTR_FIELDS, force_base: bool = False) -> FeatureParser:
    features = [build_feature(t, FG_NORMAL) for t in FEATURES]
    assign_data_groups(features, attr_fields, force_base)
    return FeatureParser(features, label_fields=["label"], reserved_columns=["rid"])


def rows(b: int = 3) -> pa.RecordBatch:
    return pa.record_batch(
        {
            "uid": pa.array(range(1, b + 1), pa.int64()),
            "iid": pa.array(range(10, 10 + b), pa.int64()),
            "price": pa.array([1.0 + i for i in range(b)], pa.float32()),
            "age": pa.array([20.0 + i for i in range(b)], pa.float32()),
            "label": pa.array([1] * b, pa.int64()),
            "rid": pa.array([f"r{i}" for i in range(b)]),
        }
    )


def negatives(n: int) -> pa.RecordBatch:
    # samplers hand over attr columns as strings when the batch does not type them
    return pa.record_batch({"iid": pa.array([str(50 + i) for i in range(n)]), "price": pa.array([0.5] * n, pa.float32())})


class TestDataGroups:
    def test_single_input_types_go_to_neg(self) -> None:
        f = make_parser().features
        assert [x.data_group for x in f] == [BASE_DATA_GROUP, NEG_DATA_GROUP, NEG_DATA_GROUP, BASE_DATA_GROUP]

    def test_force_base_keeps_everything_in_base(self) -> None:
        assert {x.data_group for x in make_parser(force_base=True).features} == {BASE_DATA_GROUP}

    def test_cross_types_go_to_cneg(self) -> None:
        f = build_feature(FEATURES[1], FG_NORMAL)
        f.config_name = "combo_feature"  # any multi-input type
        assert data_group_for(f, ["iid"]) == CROSS_NEG_DATA_GROUP

    def test_fg_none_inputs_are_feature_names(self) -> None:
        f = build_feature(FEATURES[1], FG_NONE)
        assert data_group_for(f, ["iid"]) == BASE_DATA_GROUP
        assert data_group_for(f, ["item"]) == NEG_DATA_GROUP

    def test_attr_fields_of_the_configured_sampler(self) -> None:
        cfg = data_pb2.DataConfig()
        assert sampler_attr_fields(cfg) == []
        cfg.negative_sampler.CopyFrom(sampler_pb2.NegativeSampler(attr_fields=["a", "b"]))
        assert sampler_attr_fields(cfg) == ["a", "b"]
        cfg.tdm_sampler.CopyFrom(sampler_pb2.TDMSampler(attr_fields=["a"]))
        assert sampler_attr_fields(cfg) == []  # TDM expands the batch itself


class TestParseSampled:
    def test_rows_per_group(self) -> None:
        out = make_parser()(Sampled(rows(3), negatives(4)))
        assert out.batch_size == 3
        base, neg = out.sparse_features[BASE_DATA_GROUP], out.sparse_features[NEG_DATA_GROUP]
        assert base.keys() == ["user"] and base.stride() == 3
        assert neg.keys() == ["item"] and neg.stride() == 7
        assert neg.values().tolist() == [10, 11, 12, 50, 51, 52, 53]
        assert out.dense_features[NEG_DATA_GROUP].values().squeeze(1).tolist() == [1.0, 2.0, 3.0] + [0.5] * 4
        assert out.dense_features[BASE_DATA_GROUP].keys() == ["age"]
        assert out.labels["label"].tolist() == [1, 1, 1]
        assert out.reserves.num_rows == 3
        assert out.additional_infos["hard_neg_indices"].shape == (0, 2)

    def test_hard_neg_indices_are_passed_on(self) -> None:
        hard = np.array([[0, 0], [2, 0], [2, 1]], np.int32)
        out = make_parser()(Sampled(rows(3), negatives(5), hard))
        got = out.additional_infos["hard_neg_indices"]
        assert got.dtype == torch.int32 and got.tolist() == hard.tolist()
        assert out.sparse_features[NEG_DATA_GROUP].stride() == 8
        assert out.additional_infos["masked_neg_indices"].shape == (0, 2)

    def test_masked_neg_indices_are_passed_on(self) -> None:
        masked = np.array([[0, 4], [1, 0], [1, 2]], np.int32)
        out = make_parser()(Sampled(rows(2), negatives(5), masked_neg_indices=masked))
        got = out.additional_infos["masked_neg_indices"]
        assert got.dtype == torch.int32 and got.tolist() == masked.tolist()
        assert out.additional_infos["hard_neg_indices"].shape == (0, 2)

    def test_force_base_data_group_pads(self) -> None:
        out = make_parser(force_base=True)(Sampled(rows(3), negatives(2), force_base_data_group=True))
        kjt = out.sparse_features[BASE_DATA_GROUP]
        assert kjt.stride() == 5 and set(out.sparse_features) == {BASE_DATA_GROUP}
        per_key = kjt.to_dict()
        assert per_key["item"].values().tolist() == [10, 11, 12, 50, 51]
        assert per_key["user"].lengths().tolist() == [1, 1, 1, 0, 0]  # no user on sampled rows
        assert out.labels["label"].shape == (3,)

    def test_plain_batch_keeps_groups_with_b_rows(self) -> None:
        # predict / export: no sampler ran, the model still reads item features from __NEG__
        out = make_parser()(rows(3))
        assert out.sparse_features[NEG_DATA_GROUP].stride() == 3
        assert out.additional_infos["hard_neg_indices"].shape == (0, 2)
        assert out.additional_infos["masked_neg_indices"].shape == (0, 2)

    def test_without_negative_features_negatives_are_ignored(self) -> None:
        out = make_parser(attr_fields=[])(Sampled(rows(2), negatives(3)))
        assert set(out.sparse_features) == {BASE_DATA_GROUP}
        assert out.sparse_features[BASE_DATA_GROUP].stride() == 2

    def test_cross_feature_inputs_come_from_sampled_or_owner_rows(self) -> None:
        # a cross feature reads sampled columns where the sampler gives them, and the
        # user-side columns of each sampled row's owner (3 negatives, 2 rows: owners 0, 0, 1)
        features = [build_feature(FEATURES[0], FG_NORMAL)]
        features[0].config_name = "combo_feature"
        assign_data_groups(features, ["uid"])
        parser = FeatureParser(features)
        sampled_uid = parser(Sampled(rows(2), pa.record_batch({"uid": pa.array([7, 8, 9], pa.int64())})))
        assert sampled_uid.sparse_features[CROSS_NEG_DATA_GROUP].values().tolist() == [1, 2, 7, 8, 9]
        owner_uid = parser(Sampled(rows(2), negatives(3)))
        assert owner_uid.sparse_features[CROSS_NEG_DATA_GROUP].values().tolist() == [1, 2, 1, 1, 2]

    def test_unreadable_sampled_column_names_it(self) -> None:
        bad = pa.record_batch({"iid": pa.array(["x"]), "price": pa.array([1.0], pa.float32())})
        with pytest.raises(DataError, match="'iid'"):
            make_parser()(Sampled(rows(2), bad))


def test_sequence_features_keep_their_structures() -> None:
    # a user-side click history (sequence ids) and a raw sequence stay in their places
    texts = FEATURES + [
        'sequence_id_feature { feature_name: "clicks" expression: "user:clicks" embedding_dim: 4 num_buckets: 100 sequence_length: 5 }',
        'sequence_raw_feature { feature_name: "stay" expression: "user:stay" sequence_length: 5 }',
    ]
    features = [build_feature(t, FG_NORMAL) for t in texts]
    assign_data_groups(features, ATTR_FIELDS)
    raw = rows(2)
    raw = raw.append_column("clicks", pa.array(["1;2;3", "4"])).append_column("stay", pa.array(["0.5;1.5", ""]))
    out = FeatureParser(features)(Sampled(raw, negatives(3)))
    clicks = out.sparse_features[BASE_DATA_GROUP]["clicks"]
    assert clicks.lengths().tolist() == [3, 1] and clicks.values().tolist() == [1, 2, 3, 4]
    stay = out.sequence_dense_features["stay"]
    assert len(stay.lengths()) == 2 and int(stay.lengths()[0]) == 2 and stay.values().shape[1] == 1
    assert out.sparse_features[NEG_DATA_GROUP].stride() == 5


def test_dag_features_follow_the_sampled_features_they_read() -> None:
    texts = [
        'id_feature { feature_name: "user_str" expression: "user:uid" embedding_dim: 4 hash_bucket_size: 100 }',
        'id_feature { feature_name: "item_str" expression: "item:iid" hash_bucket_size: 100 stub_type: true }',
        'combo_feature { feature_name: "cross" expression: ["feature:user_str", "feature:item_str"] embedding_dim: 4 hash_bucket_size: 1000 }',
    ]
    def dag_features() -> list:  # type: ignore[type-arg]
        return create_features([text_format.Parse(t, feature_pb2.FeatureConfig()) for t in texts], FG_DAG)

    features = dag_features()
    groups = assign_data_groups(features, ATTR_FIELDS)
    # the stub reads a sampled column; the combo reads the stub, so it has sampled rows too
    assert groups == {"user_str": BASE_DATA_GROUP, "item_str": NEG_DATA_GROUP, "cross": CROSS_NEG_DATA_GROUP}
    out = FeatureParser(features)(Sampled(rows(3), negatives(4)))
    assert out.sparse_features[BASE_DATA_GROUP].keys() == ["user_str"]
    cneg = out.sparse_features[CROSS_NEG_DATA_GROUP]
    assert cneg.keys() == ["cross"] and cneg.stride() == 7
    # the same as computing the features on the 7 rows spelled out: owners' users with the items
    owners = negative_owners(3, 4, None)
    spelled = pa.record_batch(
        {
            "uid": pa.array([1, 2, 3] + [int(o) + 1 for o in owners], pa.int64()),
            "iid": pa.array([10, 11, 12, 50, 51, 52, 53], pa.int64()),
        }
    )
    plain = FeatureParser(dag_features())(spelled)
    assert cneg.values().tolist() == plain.sparse_features[BASE_DATA_GROUP]["cross"].values().tolist()


@given(b=st.integers(1, 40), n=st.integers(0, 100), hard=st.lists(st.integers(0, 39), max_size=10))
def test_owners_cover_rows_in_order(b: int, n: int, hard: list[int]) -> None:
    hard = [h % b for h in hard][:n]
    indices = np.array([[h, 0] for h in hard], np.int32).reshape(-1, 2)
    owners = negative_owners(b, n, indices)
    regular = owners[: n - len(hard)]
    assert len(owners) == n
    assert np.all(np.diff(regular) >= 0) and (len(regular) == 0 or regular.max() < b)
    per_row = -(-len(regular) // b) if len(regular) else 1
    assert np.all(np.bincount(regular, minlength=b) <= per_row)
    assert owners[n - len(hard) :].tolist() == hard

"""FG graph: `feature:` inputs read other features' outputs, computed first; cycles are config
errors; stub features feed others and never reach the model."""

from __future__ import annotations

import pyarrow as pa
import pytest
from google.protobuf import text_format

from rec_core.batch import BASE_DATA_GROUP
from rec_core.errors import ConfigError
from rec_core.protos import feature_pb2
from rec_features.dag import FeatureGraph
from rec_features.features import FG_BUCKETIZE, FG_DAG, FG_NONE, FG_NORMAL, BaseFeature, create_features
from rec_features.parser import FeatureParser
from rec_features.testing import sparse_rows
from rec_features.values import SequenceSparseValues, SparseValues

LOG_PRICE = 'raw_feature { feature_name: "log_price" expression: "item:price" normalizer: "method=log10,threshold=1,default=-1" stub_type: true }'
PRICE_LEVEL = 'raw_feature { feature_name: "price_level" expression: "feature:log_price" boundaries: [0, 1, 2] embedding_dim: 4 }'


def build(*texts: str, mode: int = FG_DAG) -> list[BaseFeature]:
    return create_features([text_format.Parse(t, feature_pb2.FeatureConfig()) for t in texts], mode)


def ids(values: object) -> list[list[int]]:
    assert isinstance(values, SparseValues)
    return sparse_rows(values)


PRICES = pa.record_batch({"price": pa.array([5.0, 50.0, 500.0, None, 0.5])})


class TestOrderAndStubs:
    @pytest.mark.parametrize("mode", [FG_DAG, FG_NORMAL])
    def test_consumer_reads_the_stub_output(self, mode: int) -> None:
        parser = FeatureParser(build(LOG_PRICE, PRICE_LEVEL, mode=mode))
        values = parser.compute(PRICES)
        # log10 of 5, 50, 500 bucketized by [0, 1, 2]; null -> default 0 -> below threshold -> -1 -> bucket 0
        assert list(values) == ["price_level"]
        assert ids(values["price_level"]) == [[1], [2], [3], [0], [0]]
        assert parser.feature_columns() == ["price"]

    def test_config_order_does_not_matter(self) -> None:
        feats = build(PRICE_LEVEL, LOG_PRICE)
        assert [f.name for f in FeatureGraph(feats).order] == ["log_price", "price_level"]
        assert ids(FeatureParser(feats).compute(PRICES)["price_level"]) == [[1], [2], [3], [0], [0]]

    def test_chain_of_three(self) -> None:
        feats = build(
            'id_feature { feature_name: "c" expression: "feature:b" embedding_dim: 4 num_buckets: 4 }',
            'raw_feature { feature_name: "b" expression: "feature:a" boundaries: [1, 2, 3] embedding_dim: 4 stub_type: true }',
            'raw_feature { feature_name: "a" expression: "user:x" normalizer: "method=minmax,min=0,max=0.25" }',
        )
        assert [f.name for f in FeatureGraph(feats).order] == ["a", "b", "c"]
        values = FeatureParser(feats).compute(pa.record_batch({"x": pa.array([0.1, 0.3, 0.6, 0.9])}))
        assert list(values) == ["c", "a"]  # emitted features, in config order
        # x/0.25 = 0.4, 1.2, 2.4, 3.6 -> buckets 0..3, read by c as ids
        assert ids(values["c"]) == [[0], [1], [2], [3]]

    def test_stub_is_not_in_the_batch(self) -> None:
        batch = FeatureParser(build(LOG_PRICE, PRICE_LEVEL, 'raw_feature { feature_name: "p" expression: "item:price" }'))(PRICES)
        assert batch.sparse_features[BASE_DATA_GROUP].keys() == ["price_level"]
        assert batch.dense_features[BASE_DATA_GROUP].keys() == ["p"]

    @pytest.mark.parametrize("mode", [FG_NONE, FG_BUCKETIZE])
    def test_encoded_modes_skip_stubs_and_read_one_column_per_feature(self, mode: int) -> None:
        parser = FeatureParser(build(LOG_PRICE, PRICE_LEVEL, mode=mode))
        assert parser.feature_columns() == ["price_level"]
        values = parser.compute(pa.record_batch({"price_level": pa.array([1, 3], pa.int64())}))
        assert list(values) == ["price_level"]


class TestResolution:
    def test_dag_input_naming_no_feature_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match=r"feature 'price_level' input 'feature:log_price'.*no feature is named"):
            build(PRICE_LEVEL)

    def test_normal_mode_reads_a_column_when_no_feature_has_the_name(self) -> None:
        parser = FeatureParser(build(PRICE_LEVEL, mode=FG_NORMAL))
        assert parser.feature_columns() == ["log_price"]
        assert ids(parser.compute(pa.record_batch({"log_price": pa.array([0.5, 2.5])}))["price_level"]) == [[1], [3]]

    def test_const_input_is_the_text_on_every_row(self) -> None:
        parser = FeatureParser(build('id_feature { feature_name: "k" expression: "const:abc" embedding_dim: 4 hash_bucket_size: 100 }'))
        assert parser.feature_columns() == []
        # golden std::hash: "abc" -> 33 of 100
        assert ids(parser.compute(pa.record_batch({"other": pa.array([1, 2])}))["k"]) == [[33], [33]]


class TestCycles:
    def test_two_features_reading_each_other(self) -> None:
        with pytest.raises(ConfigError, match=r"feature_configs: features read each other in a cycle: a -> b -> a"):
            build(
                'raw_feature { feature_name: "a" expression: "feature:b" }',
                'raw_feature { feature_name: "b" expression: "feature:a" }',
            )

    def test_longer_cycle_behind_a_feature_that_reads_it(self) -> None:
        with pytest.raises(ConfigError, match=r"cycle: (b -> c -> d -> b|c -> d -> b -> c|d -> b -> c -> d)$"):
            build(
                'raw_feature { feature_name: "a" expression: "feature:b" }',
                'raw_feature { feature_name: "b" expression: "feature:c" }',
                'raw_feature { feature_name: "c" expression: "feature:d" }',
                'raw_feature { feature_name: "d" expression: "feature:b" }',
                'raw_feature { feature_name: "e" expression: "user:e" }',
            )

    def test_feature_reading_itself(self) -> None:
        with pytest.raises(ConfigError, match=r"cycle: a -> a"):
            build('raw_feature { feature_name: "a" expression: "feature:a" }', mode=FG_NORMAL)


def seq(*subs: str) -> str:
    features = " ".join(f"features {{ {s} }}" for s in subs)
    return f'sequence_feature {{ sequence_name: "click_seq" sequence_length: 3 {features} }}'


class TestSequencesInTheGraph:
    def test_sequence_reads_a_sequence_element_by_element(self) -> None:
        feats = build(
            seq(
                'raw_feature { feature_name: "lp" expression: "item:price" normalizer: "method=log10,threshold=1,default=-1" stub_type: true }',
                'raw_feature { feature_name: "lvl" expression: "feature:click_seq__lp" boundaries: [0, 1, 2] embedding_dim: 4 }',
            )
        )
        out = FeatureParser(feats).compute(pa.record_batch({"click_seq__price": pa.array(["5;50;500;5000", "", "0.5"])}))
        lvl = out["click_seq__lvl"]
        assert isinstance(lvl, SequenceSparseValues)
        # truncated to 3 elements; an empty row is one default element (0 -> log default -1 -> bucket 0)
        assert lvl.values.tolist() == [1, 2, 3, 0, 0] and lvl.seq_lengths.tolist() == [3, 1, 1]

    def test_non_sequence_reads_a_sequence_as_one_list_per_row(self) -> None:
        feats = build(
            seq(
                'id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4 num_buckets: 100 }',
                'id_feature { feature_name: "t" expression: "item:t" embedding_dim: 4 num_buckets: 100 value_dim: 0 }',
            ),
            'id_feature { feature_name: "all_c" expression: "feature:click_seq__c" embedding_dim: 4 num_buckets: 100 }',
            'id_feature { feature_name: "all_t" expression: "feature:click_seq__t" embedding_dim: 4 num_buckets: 100 }',
        )
        out = FeatureParser(feats).compute(
            pa.record_batch({"click_seq__c": pa.array(["10;11;12", "13", ""]), "click_seq__t": pa.array(["1\x1d2;3", "", "4"])})
        )
        assert ids(out["all_c"]) == [[10, 11, 12], [13], [0]]
        assert ids(out["all_t"]) == [[1, 2, 3], [0], [4]]

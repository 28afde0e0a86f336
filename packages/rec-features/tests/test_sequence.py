"""Sequence features (grouped `sequence_feature` and simple `sequence_*_feature`) against
hand-computed values, in every FG mode, and how the parser packs them into a Batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import torch
from google.protobuf import text_format
from torchrec.modules.embedding_configs import EmbeddingConfig

from rec_core.batch import BASE_DATA_GROUP
from rec_core.errors import ConfigError
from rec_core.protos import feature_pb2
from rec_features.embedding import embedding_bag_configs, embedding_configs
from rec_features.errors import InvalidFgInputError
from rec_features.features import FG_BUCKETIZE, FG_NONE, FG_NORMAL, BaseFeature, create_features
from rec_features.parser import FeatureParser
from rec_features.values import SequenceDenseValues, SequenceSparseValues


def build(*texts: str, mode: int = FG_NORMAL, sep: str = "\x03") -> list[BaseFeature]:
    return create_features([text_format.Parse(t, feature_pb2.FeatureConfig()) for t in texts], mode, sep)


def grouped(*subs: str, name: str = "click_seq", length: int = 50, delim: str = ";") -> str:
    features = " ".join(f"features {{ {sub} }}" for sub in subs)
    return f'sequence_feature {{ sequence_name: "{name}" sequence_length: {length} sequence_delim: "{delim}" {features} }}'


def seq_ids(f: BaseFeature, col: Any, column: str | None = None) -> tuple[list[int], list[int], list[int]]:
    """(ids, ids per element, elements per row) of a sparse sequence."""
    out = f.process({column or f.inputs[0]: col if isinstance(col, pa.Array) else pa.array(col)})
    assert isinstance(out, SequenceSparseValues)
    assert out.values.dtype == np.int64 and out.seq_lengths.dtype == np.int32 and out.key_lengths.dtype == np.int32
    # the KJT lengths are ids per row
    assert out.lengths.tolist() == [sum(out.key_lengths[s - n : s]) for s, n in zip(np.cumsum(out.seq_lengths), out.seq_lengths)]
    return out.values.tolist(), out.key_lengths.tolist(), out.seq_lengths.tolist()


def seq_dense(f: BaseFeature, col: Any) -> tuple[list[list[float]], list[int]]:
    out = f.process({f.inputs[0]: col if isinstance(col, pa.Array) else pa.array(col)})
    assert isinstance(out, SequenceDenseValues)
    assert out.values.dtype == np.float32 and out.values.ndim == 2
    return out.values.astype(np.float64).round(5).tolist(), out.seq_lengths.tolist()


HASHED = 'id_feature { feature_name: "iid" expression: "item:iid" embedding_dim: 16 hash_bucket_size: 100 }'


class TestGroupedIdNormal:
    def test_names_inputs_and_properties(self) -> None:
        (f,) = build(grouped(HASHED, length=50))
        assert f.name == "click_seq__iid"
        assert f.inputs == ["click_seq__iid"]  # the input column carries the sequence prefix too
        assert (f.is_sequence, f.is_grouped_sequence, f.is_sparse) == (True, True, True)
        assert (f.sequence_name, f.sequence_length, f.sequence_delim, f.sequence_pk) == ("click_seq", 50, ";", "user:click_seq")
        assert not f.is_multi_value_sequence

    def test_hashes_each_element_and_fills_empty_rows_with_zero(self) -> None:
        (f,) = build(grouped(HASHED))
        # "abc"->33 "efg"->44 "hij"->66 (golden std::hash ids); an empty default is "0" -> 26
        assert seq_ids(f, ["abc;efg;hij", "", None, "hij"]) == ([33, 44, 66, 26, 26, 66], [1] * 6, [3, 1, 1, 1])

    def test_default_value_fills_empty_rows_and_empty_elements(self) -> None:
        (f,) = build(grouped(HASHED.replace("}", 'default_value: "xyz" }')))
        assert seq_ids(f, ["abc;;hij", ""]) == ([33, 13, 66, 13], [1, 1, 1, 1], [3, 1])

    def test_value_dim_one_keeps_the_first_value_of_an_element(self) -> None:
        (f,) = build(grouped(HASHED))
        assert seq_ids(f, ["abc\x1defg;hij"]) == ([33, 66], [1, 1], [2])

    def test_multi_value_elements(self) -> None:
        (f,) = build(grouped(HASHED.replace("}", "value_dim: 0 }")))
        assert f.is_multi_value_sequence
        assert seq_ids(f, ["abc\x1defg;hij", ""]) == ([33, 44, 66, 26], [2, 1, 1], [2, 1])

    def test_truncation_keeps_the_first_elements(self) -> None:
        (f,) = build(grouped('id_feature { feature_name: "n" expression: "item:n" embedding_dim: 4 num_buckets: 10 }', length=2))
        assert seq_ids(f, ["1;2;3;4", "5", "6;7"]) == ([1, 2, 5, 6, 7], [1] * 5, [2, 1, 2])

    def test_vocab_list_and_another_delimiter(self) -> None:
        sub = 'id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4 vocab_list: ["a", "b", "中"] default_value: "0" }'
        (f,) = build(grouped(sub, delim="|"))
        # [default, <OOV>, a, b, 中]: empty elements take the default (0), unknown ones <OOV> (1)
        assert seq_ids(f, ["中||a|b|b|", "", "a|x"]) == ([4, 0, 2, 3, 3, 0, 0, 2, 1], [1] * 9, [6, 1, 2])

    def test_unicode_elements_hash_as_utf8_text(self) -> None:
        (f,) = build(grouped(HASHED))
        (g,) = build(HASHED)
        expected = g.process({"iid": pa.array(["héllo", "中文", "😀"])}).values.tolist()
        assert seq_ids(f, ["héllo;中文;😀"])[0] == expected

    def test_list_inputs_match_string_inputs(self) -> None:
        (f,) = build(grouped('id_feature { feature_name: "n" expression: "item:n" embedding_dim: 4 num_buckets: 10 value_dim: 0 }'))
        text = seq_ids(f, ["1;2", "", "3", "4\x1d5;6", None])
        assert seq_ids(f, pa.array([["1", "2"], [], ["3"], ["4\x1d5", "6"], None])) == text
        assert seq_ids(f, pa.array([[[1], [2]], [], [[3]], [[4, 5], [6]], [[]]])) == text
        assert text == ([1, 2, 0, 3, 4, 5, 6, 0], [1, 1, 1, 1, 2, 1, 1], [2, 1, 1, 2, 1])


class TestGroupedRawNormal:
    def test_dense_elements(self) -> None:
        (f,) = build(grouped('raw_feature { feature_name: "ts" expression: "user:ts" }'))
        assert f.name == "click_seq__ts" and f.inputs == ["click_seq__ts"] and not f.is_sparse
        assert seq_dense(f, ["0.1;0.2", "", None, "0.3"]) == ([[0.1], [0.2], [0.0], [0.0], [0.3]], [2, 1, 1, 1])

    def test_empty_default_is_zero(self) -> None:
        (f,) = build(grouped('raw_feature { feature_name: "ts" expression: "user:ts" default_value: "" }'))
        assert seq_dense(f, ["0.1", ""]) == ([[0.1], [0.0]], [1, 1])

    def test_value_dim_two(self) -> None:
        (f,) = build(grouped('raw_feature { feature_name: "v" expression: "user:v" value_dim: 2 default_value: "7\x1d8" }'))
        expected = ([[0.1, 1.1], [0.2, 1.2], [7.0, 8.0], [0.3, 1.3]], [2, 1, 1])
        assert seq_dense(f, ["0.1\x1d1.1;0.2\x1d1.2", "", "0.3\x1d1.3"]) == expected
        assert seq_dense(f, pa.array([[[0.1, 1.1], [0.2, 1.2]], None, [[0.3, 1.3]]])) == expected
        # a flat list of numbers is read as value_dim-wide elements
        assert seq_dense(f, pa.array([[0.1, 1.1, 0.2, 1.2], [], [0.3, 1.3]])) == expected

    def test_flat_list_of_the_wrong_width_names_the_row(self) -> None:
        (f,) = build(grouped('raw_feature { feature_name: "v" expression: "user:v" value_dim: 2 }'))
        with pytest.raises(InvalidFgInputError, match=r"'click_seq__v'.*3 values.*2-wide.*row 1"):
            f.process({"click_seq__v": pa.array([[1.0, 2.0], [1.0, 2.0, 3.0]])})

    def test_boundaries_make_sparse_elements(self) -> None:
        sub = 'raw_feature { feature_name: "p" expression: "user:p" boundaries: [0.05, 0.15, 0.25] embedding_dim: 4 }'
        (f,) = build(grouped(sub))
        assert f.is_sparse and not f.is_multi_value_sequence
        assert seq_ids(f, ["0.1;0.2;0.15", ""]) == ([1, 2, 2, 0], [1, 1, 1, 1], [3, 1])

    def test_boundaries_with_value_dim_two_are_multi_value(self) -> None:
        sub = 'raw_feature { feature_name: "p" expression: "user:p" boundaries: [0.05, 0.15, 0.25] embedding_dim: 4 value_dim: 2 }'
        (f,) = build(grouped(sub))
        assert f.is_multi_value_sequence
        assert seq_ids(f, ["0.1\x1d1.1;0.2\x1d1.2", ""]) == ([1, 3, 2, 3, 0, 0], [2, 2, 2], [2, 1])


class TestSimpleSequences:
    def test_sequence_id_feature(self) -> None:
        (f,) = build(
            'sequence_id_feature { feature_name: "clicks" expression: "user:click_ids" embedding_dim: 8 '
            'hash_bucket_size: 100 sequence_length: 2 sequence_delim: "," default_value: "xyz" }'
        )
        assert (f.name, f.inputs, f.sequence_name, f.is_grouped_sequence, f.sequence_pk) == (
            "clicks", ["click_ids"], "clicks", False, "")
        assert seq_ids(f, ["abc,efg,hij", "", None]) == ([33, 44, 13, 13], [1] * 4, [2, 1, 1])

    def test_sequence_raw_feature(self) -> None:
        (f,) = build(
            'sequence_raw_feature { feature_name: "prices" expression: "user:prices" sequence_length: 50 '
            'normalizer: "method=minmax,min=0,max=10" }'
        )
        assert f.inputs == ["prices"] and f.sequence_delim == ";"
        assert seq_dense(f, ["1;5", "", "10"]) == ([[0.1], [0.5], [0.0], [1.0]], [2, 1, 1])

    def test_unset_length_keeps_every_element(self) -> None:
        (f,) = build('sequence_id_feature { feature_name: "s" expression: "user:s" embedding_dim: 4 num_buckets: 100 }')
        assert f.sequence_length == 0
        assert seq_ids(f, [";".join(str(i) for i in range(60))])[2] == [60]

    def test_non_sequence_features_have_defaults(self) -> None:
        (f,) = build(HASHED)
        assert (f.is_sequence, f.is_grouped_sequence, f.sequence_name, f.sequence_length, f.is_multi_value_sequence) == (
            False, False, "", 0, False)


class TestFgNone:
    SUB = 'id_feature { feature_name: "c" embedding_dim: 16 num_buckets: 100 value_dim: 0 }'

    def test_empty_rows_stay_empty_without_a_default(self) -> None:
        (f,) = build(grouped(self.SUB), mode=FG_NONE)
        assert f.inputs == ["click_seq__c"]
        expected = ([1, 2, 3, 4, 5, 6], [1, 1, 1, 2, 1], [2, 0, 1, 2, 0])
        assert seq_ids(f, ["1;2", "", "3", "4\x035;6", None]) == expected
        assert seq_ids(f, pa.array([[[1], [2]], [], [[3]], [[4, 5], [6]], None])) == expected

    def test_fg_encoded_default_value_fills_empty_rows(self) -> None:
        (f,) = build(grouped(self.SUB.replace("}", 'fg_encoded_default_value: "0" }')), mode=FG_NONE)
        assert seq_ids(f, ["1;2", "", "3", "4\x035;6", None]) == ([1, 2, 0, 3, 4, 5, 6, 0], [1, 1, 1, 1, 2, 1, 1], [2, 1, 1, 2, 1])
        assert seq_ids(f, pa.array([[1, 2], [], [3], [4, 6], None])) == ([1, 2, 0, 3, 4, 6, 0], [1] * 7, [2, 1, 1, 2, 1])

    def test_custom_multival_separator(self) -> None:
        (f,) = build(grouped(self.SUB, delim="|"), mode=FG_NONE, sep=",")
        assert seq_ids(f, ["1,2|3"]) == ([1, 2, 3], [2, 1], [2])

    def test_several_ids_in_a_single_value_element_name_the_row(self) -> None:
        (f,) = build(grouped('id_feature { feature_name: "c" embedding_dim: 16 num_buckets: 100 }'), mode=FG_NONE)
        with pytest.raises(InvalidFgInputError, match=r"'click_seq__c'.*2 ids.*value_dim: 0.*row 1"):
            f.process({"click_seq__c": pa.array(["1;2", "3\x034"])})

    def test_dense(self) -> None:
        sub = 'raw_feature { feature_name: "r" value_dim: 2 fg_encoded_default_value: "0\x030" }'
        (f,) = build(grouped(sub), mode=FG_NONE)
        expected = ([[0.1, 1.1], [0.2, 1.2], [0.0, 0.0], [0.3, 1.3]], [2, 1, 1])
        assert seq_dense(f, ["0.1\x031.1;0.2\x031.2", "", "0.3\x031.3"]) == expected
        assert seq_dense(f, pa.array([[[0.1, 1.1], [0.2, 1.2]], [], [[0.3, 1.3]]])) == expected

    def test_ids_outside_the_table_name_the_row(self) -> None:
        (f,) = build(grouped(self.SUB), mode=FG_NONE)
        with pytest.raises(InvalidFgInputError, match=r"id 100 is outside \[0, 100\).*element 1 of the row.*row 1"):
            f.process({"click_seq__c": pa.array(["1", "2;100"])})

    def test_truncation_applies_to_encoded_data_too(self) -> None:
        (f,) = build(grouped(self.SUB, length=1), mode=FG_NONE)
        assert seq_ids(f, ["1;2", "3"]) == ([1, 3], [1, 1], [1, 1])


class TestFgBucketize:
    def test_pre_bucketize_values_are_bucketized(self) -> None:
        feats = build(
            grouped(
                'id_feature { feature_name: "c" expression: "item:c" embedding_dim: 16 num_buckets: 100 }',
                'id_feature { feature_name: "t" expression: "item:t" embedding_dim: 8 num_buckets: 1000 value_dim: 0 }',
                'raw_feature { feature_name: "r" expression: "item:r" }',
            ),
            mode=FG_BUCKETIZE,
        )
        c, t, r = feats
        assert [f.inputs for f in feats] == [["click_seq__c"], ["click_seq__t"], ["click_seq__r"]]
        assert seq_ids(c, pa.array([["10", "11", "12"], ["13"], ["0"]])) == ([10, 11, 12, 13, 0], [1] * 5, [3, 1, 1])
        tags = pa.array([[["17", "18"], ["19"], ["20", "21"]], [["22"]], [["0"]]])
        assert seq_ids(t, tags) == ([17, 18, 19, 20, 21, 22, 0], [2, 1, 2, 1, 1], [3, 1, 1])
        assert seq_dense(r, pa.array([[14, 15, 16], [17], [0]], pa.list_(pa.float32()))) == (
            [[14.0], [15.0], [16.0], [17.0], [0.0]], [3, 1, 1])


    def test_raw_values_are_bucketized_without_their_normalizer_again(self) -> None:
        (f,) = build('raw_feature { feature_name: "p" expression: "user:p" boundaries: [1, 2] embedding_dim: 4 }', mode=FG_BUCKETIZE)
        assert f.inputs == ["p"]
        assert f.process({"p": pa.array([0.5, 1.0, 7.0])}).values.tolist() == [0, 1, 2]
        # a normalizer already ran on FG_BUCKETIZE input: it is not applied again
        (g,) = build('raw_feature { feature_name: "q" expression: "user:q" normalizer: "method=log10" boundaries: [1] embedding_dim: 4 }', mode=FG_BUCKETIZE)
        assert g.process({"q": pa.array([0.5, 1.0, 100.0])}).values.tolist() == [0, 1, 1]


class TestErrors:
    def test_missing_input_names_feature_and_column(self) -> None:
        (f,) = build(grouped(HASHED))
        with pytest.raises(InvalidFgInputError, match=r"'click_seq__iid'.*'click_seq__iid' is missing"):
            f.process({"iid": pa.array(["a"])})

    def test_sequence_feature_needs_a_name(self) -> None:
        with pytest.raises(ConfigError, match=r"feature_configs\[0\].sequence_feature.sequence_name"):
            build('sequence_feature { sequence_name: "" sequence_length: 5 features { ' + HASHED + " } }")

    def test_sub_features_of_two_groups_may_share_a_name(self) -> None:
        a, b = build(grouped(HASHED, name="click"), grouped(HASHED, name="buy"))
        assert (a.name, b.name) == ("click__iid", "buy__iid")

    def test_duplicate_sub_feature_names_are_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match=r"features\[1\].id_feature.feature_name.*'click_seq__iid'"):
            build(grouped(HASHED, HASHED))


PARSER_FEATURES = [
    'id_feature { feature_name: "uid" expression: "user:uid" embedding_dim: 4 num_buckets: 10 }',
    'raw_feature { feature_name: "age" expression: "user:age" }',
    grouped(
        'id_feature { feature_name: "cat" expression: "item:cat" embedding_dim: 4 num_buckets: 100 }',
        'id_feature { feature_name: "tag" expression: "item:tag" embedding_dim: 4 num_buckets: 100 value_dim: 0 }',
        'raw_feature { feature_name: "ts" expression: "user:ts" }',
    ),
    'sequence_raw_feature { feature_name: "prices" expression: "user:prices" value_dim: 2 sequence_delim: "|" }',
]


def parser_batch() -> pa.RecordBatch:
    return pa.record_batch(
        {
            "uid": pa.array([1, 2, 3]),
            "age": pa.array([10.0, 20.0, 30.0]),
            "click_seq__cat": pa.array(["10;11;12", "13", ""]),
            "click_seq__tag": pa.array(["17\x1d18;19;20\x1d21", "22", ""]),
            "click_seq__ts": pa.array(["14;15;16", "17", ""]),
            "prices": pa.array(["1\x1d2|3\x1d4", "", "5\x1d6"]),
        }
    )


class TestParserPacking:
    def test_sequence_ids_share_the_kjt_with_pooled_ids(self) -> None:
        batch = FeatureParser(build(*PARSER_FEATURES))(parser_batch())
        kjt = batch.sparse_features[BASE_DATA_GROUP]
        assert kjt.keys() == ["uid", "click_seq__cat", "click_seq__tag"]
        assert kjt.values().tolist() == [1, 2, 3, 10, 11, 12, 13, 0, 17, 18, 19, 20, 21, 22, 0]
        # a multi-value sequence's KJT lengths are ids per row
        assert kjt.lengths().tolist() == [1, 1, 1, 3, 1, 1, 5, 1, 1]

    def test_multi_value_lengths(self) -> None:
        batch = FeatureParser(build(*PARSER_FEATURES))(parser_batch())
        mulval = batch.sequence_mulval_lengths[BASE_DATA_GROUP]
        assert mulval.keys() == ["click_seq__tag"]
        assert mulval.values().tolist() == [2, 1, 2, 1, 1] and mulval.values().dtype == torch.int32
        assert mulval.lengths().tolist() == [3, 1, 1]

    def test_dense_sequences_are_jagged_tensors(self) -> None:
        batch = FeatureParser(build(*PARSER_FEATURES))(parser_batch())
        assert sorted(batch.sequence_dense_features) == ["click_seq__ts", "prices"]
        ts = batch.sequence_dense_features["click_seq__ts"]
        assert ts.values().tolist() == [[14.0], [15.0], [16.0], [17.0], [0.0]] and ts.values().dtype == torch.float32
        assert ts.lengths().tolist() == [3, 1, 1]
        prices = batch.sequence_dense_features["prices"]
        assert prices.values().tolist() == [[1, 2], [3, 4], [0, 0], [5, 6]] and prices.lengths().tolist() == [2, 1, 1]
        # dense sequences stay out of the pooled dense KeyedTensor
        assert batch.dense_features[BASE_DATA_GROUP].keys() == ["age"]

    def test_to_dict_signature(self) -> None:
        flat = FeatureParser(build(*PARSER_FEATURES))(parser_batch()).to_dict()
        assert flat["click_seq__tag.key_lengths"].tolist() == [2, 1, 2, 1, 1]
        assert flat["click_seq__ts.lengths"].tolist() == [3, 1, 1]

    def test_no_mulval_kjt_without_multi_value_sequences(self) -> None:
        batch = FeatureParser(build(PARSER_FEATURES[0], grouped(HASHED)))(
            pa.record_batch({"uid": pa.array([1]), "click_seq__iid": pa.array(["a;b"])})
        )
        assert batch.sequence_mulval_lengths == {}


class TestEmbeddingConfigs:
    def test_sequence_tables_are_unpooled_and_named_after_the_full_name(self) -> None:
        feats = build(*PARSER_FEATURES)
        sparse = [f for f in feats if f.is_sequence]
        tables = embedding_configs(sparse)
        assert all(isinstance(t, EmbeddingConfig) for t in tables)
        assert [(t.name, t.feature_names, t.num_embeddings, t.embedding_dim) for t in tables] == [
            ("click_seq__cat_emb", ["click_seq__cat"], 100, 4),
            ("click_seq__tag_emb", ["click_seq__tag"], 100, 4),
        ]

    def test_query_and_sequence_features_share_a_table_by_embedding_name(self) -> None:
        item = 'id_feature { feature_name: "item_id" expression: "item:iid" embedding_dim: 8 hash_bucket_size: 1000 embedding_name: "item_emb" }'
        feats = build(item, grouped(item.replace('"item_id"', '"iid"')))
        (table,) = embedding_configs(feats)
        assert (table.name, table.feature_names) == ("item_emb", ["item_id", "click_seq__iid"])
        # pooled tables are built apart (an EmbeddingBagCollection is another module)
        assert [t.feature_names for t in embedding_bag_configs(feats[:1])] == [["item_id"]]

    def test_shared_table_must_agree_on_shape(self) -> None:
        item = 'id_feature { feature_name: "item_id" expression: "item:iid" embedding_dim: 8 hash_bucket_size: 1000 embedding_name: "item_emb" }'
        other = grouped(item.replace('"item_id"', '"iid"').replace("1000", "500"))
        with pytest.raises(ConfigError, match=r"'click_seq__iid'.embedding_name.*'item_emb'.*rows=500.*rows=1000"):
            embedding_configs(build(item, other))

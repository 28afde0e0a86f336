"""id_feature: bucketization rules in FG_NORMAL, FG-encoded parsing in FG_NONE."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest

from rec_core.errors import ConfigError
from rec_features.errors import InvalidFgInputError
from rec_features.features import FG_NONE, FG_NORMAL
from rec_features.features.base import BaseFeature
from rec_features.hashing import hash_bucket
from rec_features.testing import sparse_rows
from rec_features.values import SparseValues

Feature = Callable[..., BaseFeature]
Ids = Callable[..., list[list[int]]]

# golden bucket ids for hash_bucket_size 100
ABC, EFG, HIJ, XYZ = 33, 44, 66, 13


def id_cfg(extra: str) -> str:
    return f'id_feature {{ feature_name: "f" expression: "user:c" embedding_dim: 4 {extra} }}'


class TestHashBucket:
    def test_single_values(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("hash_bucket_size: 100"))
        assert f.num_embeddings == 100
        assert ids(f, ["abc", "efg", "hij", "xyz"]) == [[ABC], [EFG], [HIJ], [XYZ]]

    def test_null_and_empty_give_no_ids_without_default(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("hash_bucket_size: 100"))
        assert ids(f, ["abc", None, "", "xyz"]) == [[ABC], [], [], [XYZ]]

    def test_default_value_fills_null_and_empty_before_hashing(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('hash_bucket_size: 100 default_value: "efg"'))
        assert ids(f, ["abc", None, ""]) == [[ABC], [EFG], [EFG]]

    def test_multi_value_default_separator(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("hash_bucket_size: 100"))
        # empty tokens between separators are dropped, order is kept
        assert ids(f, ["abc\x1defg", "hij\x1d\x1dxyz\x1d", "\x1d"]) == [[ABC, EFG], [HIJ, XYZ], []]

    def test_custom_separator(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('hash_bucket_size: 100 separator: ","'))
        assert ids(f, ["abc,efg"]) == [[ABC, EFG]]
        # under "," a \x1d is an ordinary character: the whole string is one token
        assert ids(f, ["abc\x1defg"]) == [hash_bucket(pa.array(["abc\x1defg"]), 100).tolist()]

    def test_integer_columns_hash_as_decimal_text(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("hash_bucket_size: 100"))
        assert ids(f, pa.array([1, 2, None, 4], pa.int32())) == [[95], [70], [], [56]]
        assert ids(f, [1, 2]) == ids(f, ["1", "2"])

    def test_integer_column_with_text_default(self, feature: Feature, ids: Ids) -> None:
        # the default is text; the int column is rendered as text first, so both hash alike
        f = feature(id_cfg('hash_bucket_size: 100 default_value: "abc"'))
        assert ids(f, pa.array([3, None])) == [[13], [ABC]]

    def test_list_inputs(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("hash_bucket_size: 100"))
        col = pa.array([["abc", "efg"], None, [], ["", None, "xyz"]])
        assert ids(f, col) == [[ABC, EFG], [], [], [XYZ]]
        assert ids(f, pa.array([[1, 2], None], pa.list_(pa.int64()))) == [[95, 70], []]
        assert ids(f, pa.array([["abc"]], pa.large_list(pa.large_string()))) == [[ABC]]

    def test_list_input_null_takes_default(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('hash_bucket_size: 100 default_value: "abc\x1dxyz"'))
        assert ids(f, pa.array([["efg"], None])) == [[EFG], [ABC, XYZ]]

    def test_unicode_tokens(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("hash_bucket_size: 1000003"))
        out = ids(f, ["中文\x1dé", "中文"])
        assert out[0][0] == out[1][0]
        assert out[0][1] != out[0][0]

    def test_column_encodings_agree(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("hash_bucket_size: 100"))
        words = ["abc", None, "xyz"]
        expected = [[ABC], [], [XYZ]]
        assert ids(f, pa.array(words, pa.large_string())) == expected
        assert ids(f, pa.array(words).dictionary_encode()) == expected
        assert sparse_rows(f.process({"c": pa.chunked_array([words[:1], words[1:]])})) == expected

    def test_weighted_tokens(self, feature: Feature) -> None:
        f = feature(id_cfg("hash_bucket_size: 100 weighted: true"))
        out = f.process({"c": pa.array(["abc:0.5\x1defg:2", "hij", None])})
        assert isinstance(out, SparseValues)
        assert out.values.tolist() == [ABC, EFG, HIJ]
        assert out.lengths.tolist() == [2, 1, 0]
        assert out.weights is not None and out.weights.dtype == np.float32
        assert out.weights.tolist() == [0.5, 2.0, 1.0]

    def test_weighted_bad_weight_is_an_error(self, feature: Feature) -> None:
        f = feature(id_cfg("hash_bucket_size: 100 weighted: true"))
        with pytest.raises(InvalidFgInputError, match="'f'.*weights must be numbers"):
            f.process({"c": pa.array(["abc:x"])})

    def test_weighted_map_input(self, feature: Feature) -> None:
        f = feature(id_cfg("hash_bucket_size: 100 weighted: true"))
        col = pa.array([[("abc", 0.5), ("efg", 2.0)], None], pa.map_(pa.string(), pa.float32()))
        out = f.process({"c": col})
        assert out.values.tolist() == [ABC, EFG] and out.lengths.tolist() == [2, 0]
        assert out.weights.tolist() == [0.5, 2.0]

    def test_unweighted_ignores_colon(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("hash_bucket_size: 100"))
        assert ids(f, ["abc:1"]) != [[ABC]]


class TestNumBuckets:
    def test_ids_pass_through(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("num_buckets: 10"))
        assert f.num_embeddings == 10
        assert ids(f, ["0\x1d1", "9", None, ""]) == [[0, 1], [9], [], []]
        assert ids(f, pa.array([3, None, 0])) == [[3], [], [0]]

    def test_out_of_range_names_feature_and_row(self, feature: Feature) -> None:
        f = feature(id_cfg("num_buckets: 10"))
        with pytest.raises(InvalidFgInputError, match=r"'f'.*id 10 is outside \[0, 10\).*row 2") as e:
            f.process({"c": pa.array(["1", "2\x1d3", "4\x1d10"])})
        assert e.value.feature == "f" and e.value.row == 2

    def test_negative_is_out_of_range(self, feature: Feature) -> None:
        f = feature(id_cfg("num_buckets: 10"))
        with pytest.raises(InvalidFgInputError, match="row 1"):
            f.process({"c": pa.array([1, -1])})

    def test_non_integer_is_an_error(self, feature: Feature) -> None:
        f = feature(id_cfg("num_buckets: 10"))
        with pytest.raises(InvalidFgInputError, match="'f'.*integer"):
            f.process({"c": pa.array(["x"])})

    def test_default_bucketize_value_replaces_out_of_range(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("num_buckets: 10 default_bucketize_value: 7"))
        assert ids(f, ["0\x1d10", "9", "-1"]) == [[0, 7], [9], [7]]

    def test_default_value_is_an_id(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('num_buckets: 10 default_value: "5"'))
        assert ids(f, pa.array([1, None])) == [[1], [5]]
        assert ids(f, ["1", ""]) == [[1], [5]]

    def test_default_bucketize_value_outside_table_is_a_config_error(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match="default_bucketize_value"):
            feature(id_cfg("num_buckets: 10 default_bucketize_value: 10"))


class TestVocabList:
    def test_default_oov_and_listed(self, feature: Feature, ids: Ids) -> None:
        # effective vocabulary: [default_value, <OOV>, a, b, c]
        f = feature(id_cfg('vocab_list: ["a", "b", "c"] default_value: "q"'))
        assert f.num_embeddings == 5
        assert ids(f, ["a", "b\x1dc", "zz", None, "", "q"]) == [[2], [3, 4], [1], [0], [0], [0]]

    def test_empty_default_gives_no_id(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('vocab_list: ["a", "b", "c"]'))
        assert f.num_embeddings == 5
        assert ids(f, ["a", "zz", None, ""]) == [[2], [1], [], []]

    def test_listed_default_keeps_its_listed_index(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('vocab_list: ["a", "b", "c"] default_value: "b"'))
        assert ids(f, [None, "b", "zz"]) == [[3], [3], [1]]

    def test_with_default_bucketize_value_list_is_used_as_is(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('vocab_list: ["a", "b", "c"] default_bucketize_value: 2'))
        assert f.num_embeddings == 3
        assert ids(f, ["a", "b\x1dc", "zz", None]) == [[0], [1, 2], [2], []]

    def test_default_bucketize_value_must_fit(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match=r"'f'.default_bucketize_value.*\[0, 3\)"):
            feature(id_cfg('vocab_list: ["a", "b", "c"] default_bucketize_value: 3'))

    def test_integer_column_looks_up_decimal_text(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('vocab_list: ["1", "2", "3"]'))
        assert ids(f, pa.array([1, 3, 5, None])) == [[2], [4], [1], []]

    def test_unicode_vocab(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('vocab_list: ["中文", "é"]'))
        assert ids(f, ["é\x1d中文\x1dx"]) == [[3, 2, 1]]

    def test_hash_bucket_size_wins_over_vocab(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('hash_bucket_size: 100 vocab_list: ["abc"]'))
        assert f.num_embeddings == 100
        assert ids(f, ["abc"]) == [[ABC]]


class TestVocabDict:
    def test_default_oov_and_listed(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('vocab_dict { key: "a" value: 2 } vocab_dict { key: "b" value: 4 } default_value: "q"'))
        assert f.num_embeddings == 5
        assert ids(f, ["a\x1db", "zz", None]) == [[2, 4], [1], [0]]

    def test_with_default_bucketize_value(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg('vocab_dict { key: "a" value: 0 } vocab_dict { key: "b" value: 1 } default_bucketize_value: 1'))
        assert f.num_embeddings == 2
        assert ids(f, ["a", "b", "zz"]) == [[0], [1], [1]]


class TestConfigErrors:
    def test_no_bucketizer(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match="id_feature 'f'.*hash_bucket_size, vocab_list"):
            feature(id_cfg(""))

    @pytest.mark.parametrize("extra", ["dynamicemb { max_capacity: 10 }"])
    def test_unsupported_bucketizers_are_refused_not_ignored(self, feature: Feature, extra: str) -> None:
        with pytest.raises(ConfigError, match="not supported"):
            feature(id_cfg(f"hash_bucket_size: 10 {extra}"))

    def test_missing_input_column_names_it(self, feature: Feature) -> None:
        f = feature(id_cfg("hash_bucket_size: 10"))
        with pytest.raises(InvalidFgInputError, match="'f'.*input column 'c' is missing"):
            f.process({"other": pa.array(["a"])})

    def test_inputs_strip_the_side(self, feature: Feature) -> None:
        f = feature('id_feature { feature_name: "f" expression: "item:item_id" embedding_dim: 4 hash_bucket_size: 10 }')
        assert f.inputs == ["item_id"]
        assert feature(id_cfg("hash_bucket_size: 10"), fg_mode=FG_NONE).inputs == ["f"]


def none_cfg(extra: str) -> str:
    return f'id_feature {{ feature_name: "f" expression: "user:c" embedding_dim: 4 {extra} }}'


class TestFgNone:
    """FG_NONE: the column named after the feature already holds ids."""

    def run(self, feature: Feature, extra: str, col: pa.Array, sep: str = "\x03") -> list[list[int]]:
        f = feature(none_cfg(extra), fg_mode=FG_NONE, sep=sep)
        return sparse_rows(f.process({"f": col}))

    def test_int_column(self, feature: Feature) -> None:
        assert self.run(feature, "num_buckets: 10", pa.array([1, None, 3])) == [[1], [], [3]]

    def test_ids_are_not_rehashed(self, feature: Feature) -> None:
        assert self.run(feature, "hash_bucket_size: 100", pa.array([1, 99])) == [[1], [99]]

    def test_list_int(self, feature: Feature) -> None:
        col = pa.array([[1, 2], None, [], [9]], pa.list_(pa.int32()))
        assert self.run(feature, "num_buckets: 10", col) == [[1, 2], [], [], [9]]

    def test_joined_strings(self, feature: Feature) -> None:
        col = pa.array(["1\x032", None, "", "9"])
        assert self.run(feature, "num_buckets: 10", col) == [[1, 2], [], [], [9]]

    def test_custom_multival_sep(self, feature: Feature) -> None:
        assert self.run(feature, "num_buckets: 10", pa.array(["1,2"]), sep=",") == [[1, 2]]

    def test_fg_encoded_default_value_fills_nulls(self, feature: Feature) -> None:
        extra = 'num_buckets: 10 fg_encoded_default_value: "5\x036"'
        assert self.run(feature, extra, pa.array([1, None])) == [[1], [5, 6]]
        assert self.run(feature, extra, pa.array(["1\x032", None, ""])) == [[1, 2], [5, 6], [5, 6]]
        assert self.run(feature, extra, pa.array([[1, 2], None, []])) == [[1, 2], [5, 6], []]

    def test_out_of_range_names_feature_and_row(self, feature: Feature) -> None:
        with pytest.raises(InvalidFgInputError, match=r"'f'.*id 10.*\[0, 10\).*row 1"):
            self.run(feature, "num_buckets: 10", pa.array([1, 10]))
        with pytest.raises(InvalidFgInputError, match="row 0"):
            self.run(feature, "num_buckets: 10", pa.array([-1, 1]))
        with pytest.raises(InvalidFgInputError, match=r"\[0, 5\)"):
            self.run(feature, 'vocab_list: ["a", "b", "c"]', pa.array([5]))

    def test_non_integer_tokens(self, feature: Feature) -> None:
        with pytest.raises(InvalidFgInputError, match="'f'"):
            self.run(feature, "num_buckets: 10", pa.array(["a"]))

    def test_weighted_strings(self, feature: Feature) -> None:
        f = feature(none_cfg("hash_bucket_size: 10 weighted: true"), fg_mode=FG_NONE)
        out = f.process({"f": pa.array(["1:0.5\x032:2", None, "3"])})
        assert sparse_rows(out) == [[1, 2], [], [3]]
        assert out.weights.tolist() == [0.5, 2.0, 1.0]

    def test_weighted_map(self, feature: Feature) -> None:
        f = feature(none_cfg('num_buckets: 10 weighted: true fg_encoded_default_value: "7"'), fg_mode=FG_NONE)
        col = pa.array([[(1, 0.5), (2, 2.0)], None], pa.map_(pa.int64(), pa.float32()))
        out = f.process({"f": col})
        assert sparse_rows(out) == [[1, 2], [7]]
        assert out.weights.tolist() == [0.5, 2.0, 1.0]

    def test_reads_the_column_named_after_the_feature(self, feature: Feature) -> None:
        f = feature(none_cfg("num_buckets: 10"), fg_mode=FG_NONE)
        with pytest.raises(InvalidFgInputError, match="input column 'f' is missing"):
            f.process({"c": pa.array([1])})


def test_modes_differ_on_the_same_column(feature: Feature) -> None:
    """The same string is hashed in FG_NORMAL and parsed as an id in FG_NONE."""
    normal = feature(id_cfg("hash_bucket_size: 100"), fg_mode=FG_NORMAL)
    none = feature(id_cfg("hash_bucket_size: 100"), fg_mode=FG_NONE)
    assert sparse_rows(normal.process({"c": pa.array(["1"])})) == [[95]]
    assert sparse_rows(none.process({"f": pa.array(["1"])})) == [[1]]

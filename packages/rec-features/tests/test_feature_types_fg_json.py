"""Every feature type: fg.json entries with pyfg's keys, features rebuilt from fg.json compute the
same values, FG_NONE reads the FG output columns and FG_BUCKETIZE the FG output before bucketizing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from rec_core.registry import registry
from rec_features.custom_ops import CustomOperator
from rec_features.errors import InvalidFgInputError
from rec_features.features import FG_BUCKETIZE, FG_NONE, FG_NORMAL
from rec_features.features.base import BaseFeature
from rec_features.features.bucketized import BucketizedFeature
from rec_features.fg_json import create_fg_json, features_from_fg_json
from rec_features.testing import build_feature, sparse_rows
from rec_features.values import DenseValues, SparseValues


class Concat(CustomOperator):
    def __call__(self, inputs: list[pa.Array]) -> pa.Array:
        return pc.binary_join_element_wise(*[pc.cast(c, pa.string()) for c in inputs], self.params.get("sep", "+"))


@pytest.fixture(autouse=True)
def concat_operator() -> Iterator[None]:
    registry("rec.features").register("custom_feature.Concat", Concat)
    yield
    registry("rec.features")._local.pop("custom_feature.Concat", None)


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    d = tmp_path_factory.mktemp("assets")
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["red fish blue fish", "one fish two fish"] * 10, trainers.BpeTrainer(vocab_size=60, special_tokens=["[UNK]"], show_progress=False))
    tok.save(str(d / "tokenizer.json"))
    (d / "vocab.txt").write_text("<OOV>\nx_1\ny_2\n", encoding="utf-8")
    return d


def configs(assets: Path) -> list[str]:
    return [
        'combo_feature { feature_name: "combo" expression: ["user:a", "item:b"] embedding_dim: 4 hash_bucket_size: 100 default_value: "d" }',
        f'combo_feature {{ feature_name: "combo_file" expression: ["user:a", "item:b"] embedding_dim: 4 vocab_file: "vocab.txt" asset_dir: "{assets}" default_bucketize_value: 0 }}',
        'lookup_feature { feature_name: "lookup" map: "item:kv" key: "user:a" combiner: "mean" }',
        'lookup_feature { feature_name: "lookup_ids" map: "item:kv" key: "user:a" need_discrete: true need_key: true hash_bucket_size: 50 embedding_dim: 4 }',
        'match_feature { feature_name: "match" nested_map: "user:nm" pkey: "item:pk" skey: "ALL" need_discrete: true num_buckets: 10 show_skey: false embedding_dim: 4 }',
        'match_feature { feature_name: "match_num" nested_map: "user:nm" pkey: "item:pk" skey: "item:sk" boundaries: [1, 4] embedding_dim: 4 }',
        'expr_feature { feature_name: "expr" expression: "a_num > 1 ? log(a_num) : -a_num" variables: ["user:a_num"] }',
        'expr_feature { feature_name: "expr_vec" expression: "v * 2" variables: ["item:v"] value_dim: 2 separator: "," }',
        'overlap_feature { feature_name: "overlap" query: "user:q" title: "item:t" method: "query_common_ratio" separator: " " }',
        'kv_dot_product { feature_name: "kvdot" query: "user:kq" document: "item:kd" boundaries: [0.5] embedding_dim: 4 }',
        'bool_mask_feature { feature_name: "mask" expression: ["item:b", "item:flags"] embedding_dim: 4 vocab_list: ["1", "2"] }',
        'combine_feature { feature_name: "combine" expression: "item:b" combiner: "max" value_map { key: "2" value: 20 } normalizer: "method=zscore,mean=1,standard_deviation=2" }',
        'custom_feature { feature_name: "custom" operator_name: "Concat" operator_lib_file: "x.so" expression: ["user:a", "item:b"] hash_bucket_size: 30 embedding_dim: 4 operator_params { fields { key: "sep" value { string_value: "|" } } } }',
        f'tokenize_feature {{ feature_name: "tokens" expression: "item:t" embedding_dim: 4 vocab_file: "tokenizer.json" asset_dir: "{assets}" text_normalizer {{ norm_options: [TEXT_UPPER2LOWER] }} }}',
    ]


ROWS = pa.record_batch(
    {
        "a": pa.array(["x", None, "y\x1dx", "中"]),
        "b": pa.array(["1", "2", "2\x1d3", None]),
        "kv": pa.array(["x:1\x1dy:3", "x:2", None, "中:5"]),
        "nm": pa.array(["p^1:1,2:5|q^3:2", "p^1:4", None, "q^9:9"]),
        "pk": pa.array(["p", "p", "p", "q"]),
        "sk": pa.array(["2", "1", "1", "9"]),
        "a_num": pa.array([3.0, 0.5, None, 10.0]),
        "v": pa.array(["1,2", "3,4", None, "0,0"]),
        "q": pa.array(["red fish", "blue", None, "one two"]),
        "t": pa.array(["Red fish red", "fish", "two fish", None]),
        "kq": pa.array(["a:1|b:1", "a", None, "c:2"]),
        "kd": pa.array(["a:0.5", "b", "a", "c:1"]),
        "flags": pa.array(["1", "0", "1\x1d1", None]),
    }
)


def columns(rb: pa.RecordBatch) -> dict[str, pa.Array]:
    return {n: rb.column(i) for i, n in enumerate(rb.schema.names)}


def same(a: object, b: object) -> None:
    assert type(a) is type(b)
    if isinstance(a, SparseValues):
        assert sparse_rows(a) == sparse_rows(b)  # type: ignore[arg-type]
    else:
        np.testing.assert_array_equal(a.values, b.values)  # type: ignore[union-attr]


def test_round_trip_through_fg_json(assets: Path) -> None:
    originals = [build_feature(t) for t in configs(assets)]
    doc = json.loads(json.dumps(create_fg_json(originals), ensure_ascii=False))
    rebuilt = features_from_fg_json(doc, FG_NORMAL)
    assert [f.name for f in rebuilt] == [f.name for f in originals]
    for a, b in zip(originals, rebuilt):
        assert (a.is_sparse, a.value_dim) == (b.is_sparse, b.value_dim), a.name
        if a.is_sparse:
            assert a.num_embeddings == b.num_embeddings
        same(a.process(columns(ROWS)), b.process(columns(ROWS)))


def test_pyfg_key_names(assets: Path) -> None:
    entries = {e["feature_name"]: e for e in create_fg_json([build_feature(t) for t in configs(assets)])["features"]}
    assert {e["feature_type"] for e in entries.values()} >= {
        "combo_feature", "lookup_feature", "match_feature", "expr_feature", "overlap_feature", "kv_dot_product",
        "bool_mask_feature", "combine_feature", "custom_feature", "tokenize_feature",
    }
    assert entries["lookup_ids"]["needDiscrete"] is True and entries["lookup_ids"]["needKey"] is True
    assert entries["lookup_ids"]["combiner"] == "" and entries["lookup"]["combiner"] == "mean"
    match = entries["match"]
    assert (match["user"], match["category"], match["item"], match["matchType"]) == ("user:nm", "item:pk", "ALL", "multihit")
    assert entries["match_num"]["matchType"] == "hit" and entries["match_num"]["boundaries"] == [1.0, 4.0]
    assert entries["expr"]["variables"] == ["user:a_num"] and entries["combo"]["expression"] == ["user:a", "item:b"]
    assert entries["custom"]["sep"] == "|" and entries["custom"]["value_type"] == "string"
    assert entries["combo_file"]["vocab_file"] == "vocab.txt" and entries["combo_file"]["default_bucketize_value"] == 0


def test_assets_name_the_files_to_copy(assets: Path) -> None:
    found = {f.name: f.assets() for f in (build_feature(t) for t in configs(assets))}
    assert found["combo_file"] == [str(assets / "vocab.txt")] and found["tokens"] == [str(assets / "tokenizer.json")]
    assert all(v == [] for k, v in found.items() if k not in ("combo_file", "tokens"))


def test_fg_none_reads_fg_output(assets: Path) -> None:
    """FG_NONE: the feature's own column holds the FG output (ids, or value_dim numbers)."""
    sparse = build_feature(configs(assets)[0], FG_NONE)
    out = sparse.process({"combo": pa.array(["1\x037", None, "99"])})
    assert sparse_rows(out) == [[1, 7], [], [99]]
    with pytest.raises(InvalidFgInputError, match=r"'combo'.*id 100 is outside \[0, 100\)"):
        sparse.process({"combo": pa.array([100])})
    dense = build_feature(configs(assets)[7], FG_NONE)
    got = dense.process({"expr_vec": pa.array(["1\x032", None])})
    assert isinstance(got, DenseValues) and got.values.tolist() == [[1.0, 2.0], [0.0, 0.0]]
    bucketed = build_feature(configs(assets)[9].replace("}", 'fg_encoded_default_value: "1" }', 1), FG_NONE)
    assert sparse_rows(bucketed.process({"kvdot": pa.array([0, None])})) == [[0], [1]]


def pre_bucketize_column(feature: BaseFeature, cols: dict[str, pa.Array]) -> pa.Array:
    """What `feature` computes before its bucketizer (after its normalizer), one list per row.

    Recorded from FG_NORMAL itself at the hand-over to the bucketizer, so the check below holds
    for every type without restating each type's FG.
    """
    seen: list[pa.Array] = []

    def tokens(tokens: pa.Array, lengths: np.ndarray, weights: object = None) -> SparseValues:
        seen.append(pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(lengths)], pa.int32()), tokens))
        return BucketizedFeature.sparse_output(feature, tokens, lengths, weights)  # type: ignore[arg-type]

    def numbers(x: np.ndarray) -> object:
        seen.append(pa.array(x.tolist(), pa.list_(pa.float64())))
        return BucketizedFeature.bucketize_numbers(feature, x)  # type: ignore[arg-type]

    feature.sparse_output, feature.bucketize_numbers = tokens, numbers  # type: ignore[method-assign]
    out = feature.process(cols)
    if not seen:  # a tokenizer has no bucketizer: its ids are the values before bucketizing
        assert isinstance(out, SparseValues)
        return pa.array(sparse_rows(out), pa.list_(pa.int64()))
    return seen[0]


def test_fg_bucketize_bucketizes_what_fg_computes_before_bucketizing(assets: Path) -> None:
    """For every type, FG_BUCKETIZE on FG's pre-bucketize output gives FG_NORMAL's values."""
    for text in configs(assets):
        normal = build_feature(text)
        expected = normal.process(columns(ROWS))
        column = pre_bucketize_column(build_feature(text), columns(ROWS))
        bucketize = build_feature(text, FG_BUCKETIZE)
        assert bucketize.inputs == [normal.name]
        same(bucketize.process({normal.name: column}), expected)


def test_fg_bucketize_by_hand(assets: Path) -> None:
    combo = build_feature(configs(assets)[0], FG_BUCKETIZE)
    from rec_features.hashing import hash_bucket

    assert sparse_rows(combo.process({"combo": pa.array(["x_1", None, "y_2\x1dx_3"])})) == [
        hash_bucket(pa.array(["x_1"]), 100).tolist(), hash_bucket(pa.array(["d"]), 100).tolist(),
        hash_bucket(pa.array(["y_2", "x_3"]), 100).tolist(),
    ]
    # numbers are bucketized as they are: the normalizer ran when they were computed
    kvdot = build_feature(configs(assets)[9], FG_BUCKETIZE)
    assert sparse_rows(kvdot.process({"kvdot": pa.array([0.25, 0.5, None])})) == [[0], [1], [0]]
    raw = build_feature('raw_feature { feature_name: "p" expression: "user:p" normalizer: "method=log10" boundaries: [1, 2] embedding_dim: 4 }', FG_BUCKETIZE)
    assert sparse_rows(raw.process({"p": pa.array([0.5, 1.0, 7.0])})) == [[0], [1], [2]]

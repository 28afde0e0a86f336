"""Shared bucketizing: vocab files (with asset_dir), assets(), value_dim truncation, config errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from rec_core.errors import ConfigError
from rec_features.features.base import BaseFeature

Feature = Callable[..., BaseFeature]
Ids = Callable[..., list[list[int]]]


def id_cfg(extra: str) -> str:
    return f'id_feature {{ feature_name: "f" expression: "user:c" embedding_dim: 4 {extra} }}'


class TestVocabFile:
    def test_one_token_a_line(self, feature: Feature, ids: Ids, tmp_path: Path) -> None:
        (tmp_path / "v.txt").write_text("<OOV>\na\nb\n中文\n", encoding="utf-8")
        f = feature(id_cfg(f'vocab_file: "{tmp_path}/v.txt" default_bucketize_value: 0'))
        assert f.num_embeddings == 4
        # unlisted tokens take default_bucketize_value; an empty default leaves null rows empty
        assert ids(f, ["a\x1d中文", "zz", None, "b"]) == [[1, 3], [0], [], [2]]

    def test_token_id_pairs_resolved_in_asset_dir(self, feature: Feature, ids: Ids, tmp_path: Path) -> None:
        (tmp_path / "vocab.txt").write_text("x 4\ny 7\n")
        f = feature(id_cfg(f'vocab_file: "vocab.txt" asset_dir: "{tmp_path}" default_bucketize_value: 0'))
        assert f.num_embeddings == 8
        assert ids(f, ["y\x1dx\x1dq"]) == [[7, 4, 0]]
        assert f.assets() == [str(tmp_path / "vocab.txt")]

    def test_default_value_is_looked_up(self, feature: Feature, ids: Ids, tmp_path: Path) -> None:
        (tmp_path / "v.txt").write_text("a\nb\n")
        f = feature(id_cfg(f'vocab_file: "{tmp_path}/v.txt" default_bucketize_value: 0 default_value: "b"'))
        assert ids(f, [None, ""]) == [[1], [1]]

    def test_missing_file_is_a_config_error_naming_it(self, feature: Feature, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match=r"'f'.vocab_file.*nope.txt.*does not exist"):
            feature(id_cfg(f'vocab_file: "{tmp_path}/nope.txt" default_bucketize_value: 0'))

    def test_default_bucketize_value_must_be_in_the_file(self, feature: Feature, tmp_path: Path) -> None:
        (tmp_path / "v.txt").write_text("a\nb\n")
        with pytest.raises(ConfigError, match=r"default_bucketize_value: 2 is outside the table \[0, 2\)"):
            feature(id_cfg(f'vocab_file: "{tmp_path}/v.txt" default_bucketize_value: 2'))

    def test_needs_default_bucketize_value(self, feature: Feature, tmp_path: Path) -> None:
        (tmp_path / "v.txt").write_text("a\n")
        with pytest.raises(ConfigError, match="default_bucketize_value"):
            feature(id_cfg(f'vocab_file: "{tmp_path}/v.txt"'))

    def test_features_without_files_have_no_assets(self, feature: Feature) -> None:
        assert feature(id_cfg("hash_bucket_size: 10")).assets() == []


class TestValueDim:
    def test_truncates_ids_per_row(self, feature: Feature, ids: Ids) -> None:
        f = feature(id_cfg("num_buckets: 10 value_dim: 2"))
        assert ids(f, ["1\x1d2\x1d3", "4", None]) == [[1, 2], [4], []]

    def test_weights_follow_truncation(self, feature: Feature) -> None:
        f = feature(id_cfg("num_buckets: 10 value_dim: 1 weighted: true"))
        out = f.process({"c": pa.array(["1:0.5\x1d2:3", "4:2"])})
        assert out.values.tolist() == [1, 4] and out.weights.tolist() == [0.5, 2.0]


def test_dynamicemb_refused_on_every_type(feature: Feature) -> None:
    with pytest.raises(ConfigError, match=r"combo_feature 'c'.dynamicemb.*not supported"):
        feature('combo_feature { feature_name: "c" expression: ["user:a", "user:b"] hash_bucket_size: 9 dynamicemb { max_capacity: 9 } }')

"""custom_feature (operators through the `rec.features` entry-point group) and tokenize_feature."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from rec_core.errors import ConfigError
from rec_core.protos import feature_pb2
from rec_core.registry import registry
from rec_features.custom_ops import CustomOperator
from rec_features.errors import InvalidFgInputError
from rec_features.features.base import BaseFeature
from rec_features.hashing import hash_bucket
from rec_features.features import FG_NORMAL
from rec_features.testing import build_feature, sparse_rows
from rec_features.text_normalizer import build_normalizer, translate, SBC2DBC

Feature = Callable[..., BaseFeature]


class JoinUpper(CustomOperator):
    """Test operator: the inputs joined by params["sep"] and upper-cased (nulls stay null)."""

    def __call__(self, inputs: list[pa.Array]) -> pa.Array:
        return pc.utf8_upper(pc.binary_join_element_wise(*[pc.cast(c, pa.string()) for c in inputs], self.params.get("sep", "")))


class LengthRatio(CustomOperator):
    """Test operator: len(a) / len(b) as a number."""

    def __call__(self, inputs: list[pa.Array]) -> pa.Array:
        a, b = (pc.utf8_length(c) for c in inputs)
        return pc.divide(pc.cast(a, pa.float64()), pc.cast(b, pa.float64()))


class WrongLength(CustomOperator):
    def __call__(self, inputs: list[pa.Array]) -> pa.Array:
        return pa.array([1.0])


@pytest.fixture(autouse=True)
def operators() -> Iterator[None]:
    reg = registry("rec.features")
    for name, op in (("JoinUpper", JoinUpper), ("LengthRatio", LengthRatio), ("WrongLength", WrongLength)):
        reg.register(f"custom_feature.{name}", op)
    yield
    for name in ("JoinUpper", "LengthRatio", "WrongLength"):
        reg._local.pop(f"custom_feature.{name}", None)


CUSTOM = 'custom_feature {{ feature_name: "u" operator_name: "{}" operator_lib_file: "pyfg/lib/libx.so" expression: ["user:a", "item:b"] {} }}'


class TestCustom:
    def test_sparse_output_is_bucketized_with_params(self, feature: Feature) -> None:
        f = feature(CUSTOM.format("JoinUpper", 'hash_bucket_size: 1000 default_value: "" operator_params { fields { key: "sep" value { string_value: "-" } } }'))
        out = f.process({"a": pa.array(["x", None, "é"]), "b": pa.array(["y", "z", "中"])})
        expected = hash_bucket(pa.array(["X-Y", "É-中"]), 1000).tolist()
        assert sparse_rows(out) == [[expected[0]], [], [expected[1]]]

    def test_default_value_for_null_output(self, feature: Feature) -> None:
        f = feature(CUSTOM.format("JoinUpper", 'vocab_list: ["AB", "NONE"] default_value: "NONE"'))
        assert sparse_rows(f.process({"a": pa.array(["a", None, "q"]), "b": pa.array(["b", "b", "q"])})) == [[2], [3], [1]]

    def test_dense_output_normalized(self, feature: Feature) -> None:
        f = feature(CUSTOM.format("LengthRatio", 'normalizer: "method=minmax,min=0,max=2"'))
        out = f.process({"a": pa.array(["abcd", "a"]), "b": pa.array(["ab", "abcd"])})
        np.testing.assert_allclose(out.values, [[1.0], [0.125]])

    def test_fg_json_carries_operator_and_params(self, feature: Feature) -> None:
        doc = feature(CUSTOM.format("JoinUpper", 'num_buckets: 3 operator_params { fields { key: "sep" value { string_value: "-" } } }')).fg_json()
        assert doc["operator_name"] == "JoinUpper" and doc["operator_lib_file"] == "pyfg/lib/libx.so"
        assert doc["sep"] == "-" and doc["operator_params"] == {"sep": "-"} and doc["value_type"] == "int64"

    def test_unknown_operator_lists_installed(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match=r"custom_feature 'u'.operator_name.*custom_feature.Nope.*custom_feature.JoinUpper"):
            feature(CUSTOM.format("Nope", ""))

    def test_wrong_row_count_is_an_error(self, feature: Feature) -> None:
        f = feature(CUSTOM.format("WrongLength", ""))
        with pytest.raises(InvalidFgInputError, match=r"'u'.*'WrongLength' returned 1 rows for 2"):
            f.process({"a": pa.array(["a", "b"]), "b": pa.array(["a", "b"])})


# ---- tokenize_feature

CORPUS = ["the quick brown fox jumps over the lazy dog", "hello world", "red fish blue fish", "你好 世界 hello"] * 20


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small BPE tokenizer.json and a SentencePiece model trained on CORPUS."""
    import sentencepiece
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    d = tmp_path_factory.mktemp("tok")
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=120, special_tokens=["[UNK]"], show_progress=False))
    tok.save(str(d / "tokenizer.json"))
    (d / "corpus.txt").write_text("\n".join(CORPUS), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(input=str(d / "corpus.txt"), model_prefix=str(d / "sp"), vocab_size=35, minloglevel=2)
    return d


TOKENIZE = 'tokenize_feature {{ feature_name: "t" expression: "item:title" embedding_dim: 4 {} }}'


class TestTokenize:
    def test_bpe_ids_match_the_library(self, feature: Feature, tokenizer_dir: Path) -> None:
        from tokenizers import Tokenizer

        f = feature(TOKENIZE.format(f'vocab_file: "tokenizer.json" asset_dir: "{tokenizer_dir}"'))
        ref = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        assert f.num_embeddings == ref.get_vocab_size() and f.is_sparse
        out = sparse_rows(f.process({"title": pa.array(["hello world", None, "", "red fox 你好"])}))
        assert out == [ref.encode("hello world").ids, [], [], ref.encode("red fox 你好").ids]
        assert f.assets() == [str(tokenizer_dir / "tokenizer.json")]

    def test_sentencepiece_and_default_value(self, feature: Feature, tokenizer_dir: Path) -> None:
        import sentencepiece

        f = feature(TOKENIZE.format(f'vocab_file: "{tokenizer_dir}/sp.model" tokenizer_type: "sentencepiece" default_value: "hello"'))
        sp = sentencepiece.SentencePieceProcessor(model_file=str(tokenizer_dir / "sp.model"))
        assert f.num_embeddings == sp.get_piece_size()
        assert sparse_rows(f.process({"title": pa.array(["red fish", None])})) == [sp.encode("red fish"), sp.encode("hello")]

    def test_text_normalizer_runs_first(self, feature: Feature, tokenizer_dir: Path) -> None:
        from tokenizers import Tokenizer

        f = feature(TOKENIZE.format(f'vocab_file: "{tokenizer_dir}/tokenizer.json" text_normalizer {{ norm_options: [TEXT_UPPER2LOWER, TEXT_SBC2DBC, TEXT_FILTER] }}'))
        ref = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        assert sparse_rows(f.process({"title": pa.array(["ＨＥＬＬＯ, World!"])})) == [ref.encode("hello world").ids]

    def test_tokens_as_sequence(self, tokenizer_dir: Path) -> None:
        from rec_features.embedding import embedding_configs
        from rec_features.fg_json import create_fg_json, features_from_fg_json

        vocab = f'vocab_file: "tokenizer.json" asset_dir: "{tokenizer_dir}"'
        pooled = build_feature(TOKENIZE.format(vocab))
        seq = build_feature(TOKENIZE.format(vocab + " tokens_as_sequence: true"))
        assert (pooled.is_sequence, seq.is_sequence, seq.sequence_name, seq.is_grouped_sequence) == (False, True, "t", False)
        titles = {"title": pa.array(["red fish blue fish", None, "hello"])}
        # the same ids; one sequence element per token instead of one pooled bag per row
        assert sparse_rows(seq.process(titles)) == sparse_rows(pooled.process(titles))
        (table,) = embedding_configs([seq])
        assert table.feature_names == ["t"] and table.num_embeddings == seq.num_embeddings
        (entry,) = create_fg_json([seq])["features"]
        assert entry["feature_type"] == "tokenize_feature" and entry["tokens_as_sequence"] is True
        (back,) = features_from_fg_json({"features": [entry]}, FG_NORMAL)
        assert back.is_sequence and sparse_rows(back.process(titles)) == sparse_rows(seq.process(titles))

    def test_config_errors(self, feature: Feature, tokenizer_dir: Path) -> None:
        with pytest.raises(ConfigError, match=r"tokenize_feature 't'.vocab_file.*does not exist"):
            feature(TOKENIZE.format('vocab_file: "missing.json"'))
        with pytest.raises(ConfigError, match=r"'t'.vocab_file.*cannot load sentencepiece"):
            feature(TOKENIZE.format(f'vocab_file: "{tokenizer_dir}/tokenizer.json" tokenizer_type: "sentencepiece"'))
        with pytest.raises(ConfigError, match="tokenizer_type"):
            feature(TOKENIZE.format(f'vocab_file: "{tokenizer_dir}/tokenizer.json" tokenizer_type: "wordpiece"'))


class TestTextNormalizer:
    def normalize(self, texts: list[str | None], *options: int, max_length: int = 0, stop: str = "") -> list[str | None]:
        cfg = feature_pb2.TextNormalizer(norm_options=list(options))
        if max_length:
            cfg.max_length = max_length
        return build_normalizer(cfg, "t", stop)(pa.array(texts, pa.string())).to_pylist()

    def test_defaults(self) -> None:
        # LOWER2UPPER, SBC2DBC, CHT2CHS, FILTER
        assert self.normalize(["Hello, 世界！ 國語 Ｗｏｒｌｄ.", None]) == ["HELLO 世界 国语 WORLD", None]

    def test_each_option(self) -> None:
        opt = feature_pb2.TextNormalizeOption
        assert self.normalize(["AbC"], opt.TEXT_UPPER2LOWER) == ["abc"]
        assert self.normalize(["a b\tc"], opt.TEXT_REMOVE_SPACE) == ["abc"]
        assert self.normalize(["ab 中文"], opt.TEXT_SPLITCHRS) == ["a b 中 文"]
        assert self.normalize(["這個東西"], opt.TEXT_CHT2CHS) == ["这个东西"]

    def test_stop_char_file_and_max_length(self, tmp_path: Path) -> None:
        (tmp_path / "stop.txt").write_text("x\n的\n", encoding="utf-8")
        opt = feature_pb2.TextNormalizeOption
        assert self.normalize(["axb的c!"], opt.TEXT_FILTER, stop=str(tmp_path / "stop.txt")) == ["abc!"]
        assert self.normalize(["ab", "abcdef"], opt.TEXT_LOWER2UPPER, max_length=3) == ["AB", "abcdef"]

    def test_translate_keeps_row_boundaries(self) -> None:
        col = pa.array(["skip", "ＡＢ　1", None, "", "中Ｚ"])[1:]
        assert translate(col, SBC2DBC).to_pylist() == ["AB 1", None, "", "中Z"]


class TestRegexReplace:
    """The operator rec ships, found through its `rec.features` entry point."""

    def test_replaces_matches(self, feature: Feature) -> None:
        params = 'operator_params { fields { key: "regex_pattern" value { string_value: "([a-z]+)_\\\\d+" } } fields { key: "replacement" value { string_value: "\\\\1" } } }'
        f = feature(f'custom_feature {{ feature_name: "r" operator_name: "RegexReplace" operator_lib_file: "pyfg/lib/libregex_replace.so" expression: ["item:c"] vocab_list: ["cat", "dog"] default_value: "" {params} }}')
        assert sparse_rows(f.process({"c": pa.array(["cat_12", "dog_7\x1dcow_1", None])})) == [[2], [3, 1], []]

    def test_missing_pattern_is_a_config_error(self, feature: Feature) -> None:
        with pytest.raises(ConfigError, match=r"'r'.operator_params.*regex_pattern"):
            feature('custom_feature { feature_name: "r" operator_name: "RegexReplace" operator_lib_file: "x" expression: ["item:c"] }')

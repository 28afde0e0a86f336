"""tokenize_feature: text normalized, then split into word-piece ids by a HuggingFace tokenizer.json
(BPE, `tokenizers`) or a SentencePiece model (`sentencepiece`)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rec_core.errors import ConfigError
from rec_core.fs import url_to_fs
from rec_core.protos.feature_pb2 import TextNormalizeOption
from rec_features.bucketize import resolve_asset
from rec_features.features.bucketized import BucketizedFeature
from rec_features.text_normalizer import build_normalizer
from rec_features.values import SparseValues

TOKENIZER_TYPES = ("bpe", "sentencepiece")


class _Tokenizer:
    """Batch text -> ids through the tokenizer library of `kind`."""

    def __init__(self, kind: str, path: str, where: str) -> None:
        fs, p = url_to_fs(path)
        if not fs.exists(p):
            raise ConfigError(where, f"tokenizer file {path!r} does not exist")
        with fs.open(p, "rb") as f:
            blob = f.read()
        self.kind = kind
        try:
            if kind == "bpe":
                from tokenizers import Tokenizer

                self._hf = Tokenizer.from_str(blob.decode("utf-8"))
                self.vocab_size = self._hf.get_vocab_size(with_added_tokens=True)
            else:
                import sentencepiece

                self._sp = sentencepiece.SentencePieceProcessor(model_proto=blob)
                self.vocab_size = self._sp.get_piece_size()
        except Exception as e:  # the libraries raise their own exception types for unreadable models
            raise ConfigError(where, f"cannot load {kind} tokenizer {path!r}: {type(e).__name__}: {e}") from e

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Ids of every text (no special tokens added)."""
        if self.kind == "bpe":
            return [e.ids for e in self._hf.encode_batch(texts, add_special_tokens=False)]
        return self._sp.encode(texts)


class TokenizeFeature(BucketizedFeature):
    """Ids of the text in `expression`: null/empty rows take `default_value`; `text_normalizer`
    (when set) runs first; the table has one row per tokenizer vocabulary entry."""

    config_name = "tokenize_feature"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        kind = (c.tokenizer_type or "bpe").lower()
        if kind not in TOKENIZER_TYPES:
            raise ConfigError(self.field_path("tokenizer_type"), f"unknown tokenizer {kind!r}; expected bpe or sentencepiece")
        self.tokenizer = _Tokenizer(kind, self.vocab_path, self.field_path("vocab_file"))
        self.normalize = None
        if c.HasField("text_normalizer"):
            stop = c.text_normalizer.stop_char_file
            self.normalize = build_normalizer(
                c.text_normalizer, self.field_path("text_normalizer"), resolve_asset(stop, c.asset_dir) if stop else ""
            )

    @property
    def vocab_path(self) -> str:
        """The tokenizer file, resolved against asset_dir."""
        return resolve_asset(self.config.vocab_file, self.config.asset_dir)

    @property
    def is_sparse(self) -> bool:
        return True

    @property
    def is_sequence(self) -> bool:
        """True with `tokens_as_sequence`: the tokens are a sequence (one embedding each, no pooling)."""
        return super().is_sequence or bool(self.config.tokens_as_sequence)

    @property
    def sequence_name(self) -> str:
        return self.name if self.sequence is None and self.config.tokens_as_sequence else super().sequence_name

    @property
    def num_embeddings(self) -> int:
        return self.tokenizer.vocab_size

    @property
    def id_limit(self) -> int:
        return self.tokenizer.vocab_size

    def assets(self) -> list[str]:
        files = [self.vocab_path]
        stop = self.config.text_normalizer.stop_char_file if self.config.HasField("text_normalizer") else ""
        return files + ([resolve_asset(stop, self.config.asset_dir)] if stop else [])

    def _fg(self, columns: dict[str, pa.Array]) -> SparseValues:
        col = pc.cast(self.column(columns, self.inputs[0]), pa.string())
        col = self.fill_default(col, self.config.default_value, "\x1d")
        if self.normalize is not None:
            col = self.normalize(col)
        present = np.asarray(pc.fill_null(pc.not_equal(col, ""), False), bool)
        lengths = np.zeros(len(col), np.int32)
        texts = col.filter(pa.array(present)).to_pylist()
        encoded = self.tokenizer.encode(texts) if texts else []
        lengths[present] = [len(ids) for ids in encoded]
        ids = np.fromiter(itertools.chain.from_iterable(encoded), np.int64, count=int(lengths.sum()))
        return SparseValues(ids, lengths)

    def _fg_bucketize(self, columns: dict[str, pa.Array]) -> SparseValues:
        # a tokenizer has no bucketize step: the column holds token ids already, as in FG_NONE
        return self._fg_encoded(self.column(columns, self.name))

    def fg_json(self) -> dict[str, Any]:
        c = self.config
        out = self.fg_json_base("tokenize_feature", "int64")
        out.update(
            expression=c.expression,
            vocab_file=c.vocab_file,
            tokenizer_type=self.tokenizer.kind,
            default_value=c.default_value,
        )
        if c.asset_dir:
            out["asset_dir"] = c.asset_dir
        if c.tokens_as_sequence:
            out["tokens_as_sequence"] = True
        if c.HasField("text_normalizer"):
            tn = c.text_normalizer
            norm: dict[str, Any] = {"norm_options": [TextNormalizeOption.Name(o) for o in tn.norm_options]}
            if tn.HasField("max_length"):
                norm["max_length"] = int(tn.max_length)
            if tn.stop_char_file:
                norm["stop_char_file"] = tn.stop_char_file
            out["text_normalizer"] = norm
        return out

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from rec_core.config import load_pipeline_config
from rec_core.errors import ConfigError, DataError
from rec_core.protos import data_pb2, feature_pb2
from rec_data.options import CsvOptions
from rec_data.readers import CsvReader, ParquetReader
from rec_data.synth import generate_table, write_synth

CONFIG = os.path.join(os.path.dirname(__file__), "data", "deepfm_fg_normal.config")


def _config(fg_mode: str = "FG_NORMAL"):  # type: ignore[no-untyped-def]
    config = load_pipeline_config(CONFIG)
    config.data_config.fg_mode = data_pb2.FgMode.Value(fg_mode)
    return config


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Dense integer codes of a categorical column, nulls included as their own code."""
    encoded = pc.dictionary_encode(pc.cast(column, pa.string()).fill_null("<null>")).combine_chunks()
    return encoded.indices.to_numpy()


def _per_value_score(train: pa.Table, test: pa.Table, columns: list[str]) -> np.ndarray:
    """Naive-Bayes-like score: sum over columns of the smoothed per-value log-odds of the label."""
    y = train.column("clk").to_numpy()
    base = y.mean()
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    score = np.zeros(test.num_rows)
    for name in columns:
        both = pa.chunked_array(train.column(name).chunks + test.column(name).chunks)
        codes = _codes(both)
        tr, te = codes[: train.num_rows], codes[train.num_rows :]
        hits = np.bincount(tr, weights=y, minlength=codes.max() + 1)
        seen = np.bincount(tr, minlength=codes.max() + 1)
        score += logit((hits + 10 * base) / (seen + 10))[te] - logit(base)
    return score


def test_columns_per_fg_mode() -> None:
    normal = generate_table(_config("FG_NORMAL"), 50)
    assert normal.column_names == [
        "user_id", "gender", "age_level", "item_id", "cate", "price", "ctr_7d", "emb",
        "cate_ctr_map", "cate_key", "click_seq__item_id", "click_seq__price", "tags", "clk",
    ]
    assert set(normal.column("gender").drop_null().to_pylist()) <= {"m", "f", "u"}
    assert "\x1d" in normal.column("cate_ctr_map")[0].as_py() or ":" in normal.column("cate_ctr_map")[0].as_py()

    encoded = generate_table(_config("FG_NONE"), 2000)
    assert encoded.column_names == [
        "user_id", "gender", "age_level", "item_id", "cate", "price", "ctr_7d", "emb",
        "user_cate", "cate_ctr", "click_seq__item_id", "click_seq__price", "tags", "clk",
    ]
    assert encoded.schema.field("click_seq__item_id").type == pa.list_(pa.int64())
    assert encoded.schema.field("ctr_7d").type == pa.float32()
    # Already-bucketized ids stay inside each table: vocab 3+2, 10 buckets, 5 boundaries + 1.
    for name, rows in [("gender", 5), ("age_level", 10), ("price", 6), ("cate", 1000)]:
        values = encoded.column(name).to_numpy()
        assert values.min() >= 0 and values.max() < rows, name
    # Sub-features of one grouped sequence have the same length in every row.
    ids = pc.list_value_length(encoded.column("click_seq__item_id"))
    prices = pc.list_value_length(encoded.column("click_seq__price"))
    assert ids.equals(prices) and pc.max(ids).as_py() <= 20


def test_string_ids_have_about_two_percent_nulls() -> None:
    table = generate_table(_config(), 20000)
    rate = table.column("gender").null_count / table.num_rows
    assert 0.01 < rate < 0.03


def test_deterministic_per_seed() -> None:
    config = _config()
    a, b = generate_table(config, 3000, seed=5), generate_table(config, 3000, seed=5)
    assert a.equals(b)
    assert not a.equals(generate_table(config, 3000, seed=6))


def test_labels_are_learnable_and_tied_to_label_seed() -> None:
    config = _config()
    train = generate_table(config, 20000, seed=1)
    held_out = generate_table(config, 10000, seed=2)
    other_concept = generate_table(config, 10000, seed=2, label_seed=9)
    columns = ["user_id", "gender", "age_level", "item_id", "cate", "cate_key", "tags"]
    score = _per_value_score(train, held_out, columns)
    assert 0.35 < train.column("clk").to_numpy().mean() < 0.65
    assert auc(held_out.column("clk").to_numpy(), score) > 0.72
    score = _per_value_score(train, other_concept, columns)
    assert abs(auc(other_concept.column("clk").to_numpy(), score) - 0.5) < 0.06


def test_write_parquet_files_and_row_groups(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = _config("FG_NONE")
    paths = write_synth(config, 5000, str(tmp_path / "out"), seed=3, num_files=3)
    assert paths == [str(tmp_path / "out" / f"part-{i}.parquet") for i in range(3)]
    assert sorted(os.listdir(tmp_path / "out")) == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    reader = ParquetReader(str(tmp_path / "out"))
    assert reader.num_rows() == 5000 and len(reader.splits) >= 16
    written = pa.concat_tables(pq.read_table(p) for p in paths)
    assert written.equals(generate_table(config, 5000, seed=3))


def test_write_csv_reads_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = _config()
    config.data_config.with_header = True
    config.data_config.delimiter = "\t"
    (path,) = write_synth(config, 300, str(tmp_path / "d.csv"), fmt="csv")
    batch = next(iter(CsvReader(path, options=CsvOptions.from_data_config(config.data_config), batch_size=300)))
    assert batch.num_rows == 300
    assert batch.column("emb")[0].as_py().count("\x1d") == 2  # value_dim 3, FG separator
    assert batch.schema.field("user_id").type == pa.int64()


def test_csv_follows_declared_input_fields(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = _config()
    config.data_config.input_fields_str = "user_id:STRING;clk:INT32;"
    table = generate_table(config, 10, fmt="csv")
    assert table.schema.field("user_id").type == pa.string()
    assert table.schema.field("clk").type == pa.int32()


def test_synth_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = _config()
    with pytest.raises(DataError, match="names one file but --num_files is 2"):
        write_synth(config, 10, str(tmp_path / "x.parquet"), num_files=2)
    config.feature_configs.append(
        feature_pb2.FeatureConfig(id_feature=feature_pb2.IdFeature(feature_name="v", expression="user:v", vocab_file="v.txt"))
    )
    for mode in ("FG_NORMAL", "FG_NONE"):
        config.data_config.fg_mode = data_pb2.FgMode.Value(mode)
        with pytest.raises(ConfigError, match=r"feature_configs\[v\]: synth cannot size a vocab_file feature"):
            generate_table(config, 10)
    assert not os.listdir(tmp_path)

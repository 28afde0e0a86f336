"""The `rec-fg` console script on real files: fg.json creation, FG runs, FG_NONE read-back, errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.protobuf import text_format

from rec_core.config import load_pipeline_config
from rec_features.features import FG_NONE, FG_NORMAL, create_features
from rec_features.fg_json import load_fg_json
from rec_features.parser import FeatureParser

FEATURES = """
feature_configs { id_feature { feature_name: "uid" expression: "user:uid" embedding_dim: 4 hash_bucket_size: 100 } }
feature_configs { id_feature { feature_name: "tags" expression: "item:tags" embedding_dim: 4 num_buckets: 10 weighted: true } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
feature_configs { raw_feature { feature_name: "vec" expression: "item:vec" value_dim: 2 separator: "," } }
feature_configs { sequence_feature { sequence_name: "click" sequence_length: 3
  features { id_feature { feature_name: "iid" expression: "item:iid" embedding_dim: 4 hash_bucket_size: 100 } }
  features { id_feature { feature_name: "cats" expression: "item:cats" embedding_dim: 4 num_buckets: 10 value_dim: 0 } }
  features { raw_feature { feature_name: "ts" expression: "user:ts" } } } }
feature_configs { sequence_raw_feature { feature_name: "pos" expression: "user:pos" value_dim: 2 sequence_delim: "|" } }
feature_configs { raw_feature { feature_name: "lp" expression: "item:price" normalizer: "method=log10,threshold=1,default=-1" stub_type: true } }
feature_configs { raw_feature { feature_name: "level" expression: "feature:lp" boundaries: [0, 1] embedding_dim: 4 } }
"""


def write_config(path: Path, data_config: str = "fg_mode: FG_DAG") -> Path:
    path.write_text(
        'train_input_path: "x" eval_input_path: "x" model_dir: "m"\n'
        f'data_config {{ dataset_type: ParquetDataset label_fields: "clk" sample_weight_fields: "w" {data_config} }}\n'
        + FEATURES
    )
    return path


def rows(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    seq = lambda k, fmt: [None if i % 7 == 3 else ";".join(fmt(i, j) for j in range(1 + (i + k) % 5)) for i in range(n)]  # noqa: E731
    return pa.table(
        {
            "uid": pa.array([None if i % 5 == 0 else f"u{i}" for i in range(n)]),
            "tags": pa.array([f"{i % 10}:0.5\x1d{(i + 3) % 10}" for i in range(n)]),
            "price": pa.array(rng.uniform(0, 200, n)),
            "vec": pa.array([f"{i},{-i}" for i in range(n)]),
            "click__iid": pa.array(seq(0, lambda i, j: f"item{i * j}")),
            "click__cats": pa.array(seq(0, lambda i, j: f"{j}\x1d{(i + j) % 10}")),
            "click__ts": pa.array(seq(0, lambda i, j: str(i + j / 10))),
            "pos": pa.array([None if i % 4 == 1 else "|".join(f"{j}\x1d{i}" for j in range(i % 3 + 1)) for i in range(n)]),
            "clk": pa.array([i % 2 for i in range(n)], pa.int64()),
            "w": pa.array(np.ones(n)),
        }
    )


def rec_fg(*args: str) -> subprocess.CompletedProcess:
    script = shutil.which("rec-fg", path=str(Path(sys.executable).parent)) or shutil.which("rec-fg")
    assert script, "the rec-fg console script is not installed"
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=300)


def same(a: object, b: object, name: str) -> None:
    assert type(a) is type(b), name
    for field in ("values", "lengths", "weights", "seq_lengths", "key_lengths"):
        x, y = getattr(a, field, None), getattr(b, field, None)
        if x is None or y is None:
            assert x is None and y is None, f"{name}.{field}"
        else:
            np.testing.assert_allclose(x, y, rtol=1e-6, err_msg=f"{name}.{field}")


def test_create_json(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p.config")
    out = tmp_path / "deep" / "fg.json"
    proc = rec_fg("create-json", "--pipeline_config_path", str(config), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert [e.get("feature_name", e.get("sequence_name")) for e in doc["features"]] == ["uid", "tags", "price", "vec", "click", "pos", "lp", "level"]
    assert [f.name for f in load_fg_json(str(out))][4:7] == ["click__iid", "click__cats", "click__ts"]


def test_run_writes_fg_encoded_data_that_fg_none_reads_back(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p.config")
    table = rows(50)
    pq.write_table(table, tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    proc = rec_fg("run", "--pipeline_config_path", str(config), "--input", str(tmp_path / "in.parquet"), "--output", str(out), "--batch_size", "16")
    assert proc.returncode == 0, proc.stderr
    result = pq.read_table(out)
    # labels and sample weights are kept; the stub feature is not written
    assert result.column_names == ["clk", "w", "uid", "tags", "price", "vec", "click__iid", "click__cats", "click__ts", "pos", "level"]
    assert result.num_rows == 50 and result.column("clk").equals(table.column("clk"))

    pipeline = load_pipeline_config(str(config))
    computed = FeatureParser(create_features(pipeline.feature_configs, pipeline.data_config.fg_mode)).compute(table)
    encoded = FeatureParser(create_features(pipeline.feature_configs, FG_NONE)).compute(result)
    assert list(encoded) == list(computed)
    for name in computed:
        same(computed[name], encoded[name], name)


def test_run_from_fg_json_over_arrow_files_in_a_directory(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p.config")
    assert rec_fg("create-json", "--pipeline_config_path", str(config), "--output", str(tmp_path / "fg.json")).returncode == 0
    (tmp_path / "data").mkdir()
    parts = [rows(20, 1), rows(13, 2)]
    for i, part in enumerate(parts):
        with pa.ipc.new_file(str(tmp_path / "data" / f"part-{i}.arrow"), part.schema) as w:
            w.write_table(part)
    out = tmp_path / "out.arrow"
    proc = rec_fg(
        "run", "--fg_json", str(tmp_path / "fg.json"), "--fg_mode", "FG_DAG", "--input", str(tmp_path / "data"),
        "--output", str(out), "--keep_columns", "w,clk",
    )
    assert proc.returncode == 0, proc.stderr
    result = pa.ipc.open_file(str(out)).read_all()
    assert result.num_rows == 33 and result.column_names[:2] == ["w", "clk"]
    expected = FeatureParser(load_fg_json(str(tmp_path / "fg.json"), FG_NORMAL)).compute(pa.concat_tables(parts))
    got = FeatureParser(load_fg_json(str(tmp_path / "fg.json"), FG_NONE)).compute(result)
    for name in expected:
        same(expected[name], got[name], name)


def test_deprecated_fg_encoded_flag_selects_the_mode(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p.config", data_config="fg_encoded: false fg_threads: 0")
    pq.write_table(rows(5), tmp_path / "in.parquet")
    proc = rec_fg("run", "--pipeline_config_path", str(config), "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o.parquet"))
    assert proc.returncode == 0, proc.stderr
    assert "fg_encoded is deprecated" in proc.stderr and "FG_NORMAL" in proc.stderr
    assert pq.read_table(tmp_path / "o.parquet").num_rows == 5


def test_long_runs_report_progress(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p.config")
    pq.write_table(rows(45), tmp_path / "in.parquet")
    proc = rec_fg("run", "--pipeline_config_path", str(config), "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o.parquet"), "--batch_size", "1")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"rec-fg run step=20/45 .*samples/s=", proc.stderr) and re.search(r"rec-fg run step=40/45", proc.stderr)
    assert re.search(r"rec-fg run: 45 rows, 9 features", proc.stderr)


def test_empty_input_gives_an_empty_table_with_every_column(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p.config")
    pq.write_table(rows(3).slice(0, 0), tmp_path / "in.parquet")
    proc = rec_fg("run", "--pipeline_config_path", str(config), "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o.parquet"))
    assert proc.returncode == 0, proc.stderr
    result = pq.read_table(tmp_path / "o.parquet")
    assert result.num_rows == 0 and "click__cats" in result.column_names


@pytest.mark.parametrize(
    ("drop", "args", "message"),
    [
        ("click__ts", [], r"feature 'click__ts': input column 'click__ts' is missing"),
        (None, ["--keep_columns", "nope"], r"kept column\(s\) \['nope'\]"),
        (None, ["--batch_size", "0"], r"--batch_size: must be > 0"),
        (None, ["--keep_columns", "clk,uid"], r"'uid' is both a kept column and a feature"),
    ],
)
def test_errors_exit_2_with_one_line_and_leave_no_output(tmp_path: Path, drop: str | None, args: list[str], message: str) -> None:
    config = write_config(tmp_path / "p.config")
    table = rows(40)
    pq.write_table(table.drop_columns([drop]) if drop else table, tmp_path / "in.parquet")
    out = tmp_path / "o.parquet"
    proc = rec_fg("run", "--pipeline_config_path", str(config), "--input", str(tmp_path / "in.parquet"), "--output", str(out), *args)
    assert proc.returncode == 2
    assert re.search(rf"^error: .*{message}", proc.stderr, re.M), proc.stderr
    assert not out.exists() and list(tmp_path.glob(".o.parquet*")) == []


def test_unknown_output_format_and_missing_input(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p.config")
    proc = rec_fg("run", "--pipeline_config_path", str(config), "--input", str(tmp_path / "none.parquet"), "--output", str(tmp_path / "o.csv"))
    assert proc.returncode == 2 and "--output" in proc.stderr
    proc = rec_fg("run", "--pipeline_config_path", str(config), "--input", str(tmp_path / "none.parquet"), "--output", str(tmp_path / "o.parquet"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_config_parsed_from_text_format(tmp_path: Path) -> None:
    """The test configs are valid pipeline configs (guards the fixtures themselves)."""
    from rec_core.protos import pipeline_pb2

    text_format.Parse(write_config(tmp_path / "p.config").read_text(), pipeline_pb2.EasyRecConfig())

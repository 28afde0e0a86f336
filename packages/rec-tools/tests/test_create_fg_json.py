"""`rec-tools create-fg-json` through the console script."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

Runner = Callable[..., subprocess.CompletedProcess]

CONFIG = """
train_input_path: "x" eval_input_path: "x" model_dir: "m"
data_config {{ dataset_type: ParquetDataset fg_mode: FG_NORMAL label_fields: "clk" }}
feature_configs {{ id_feature {{ feature_name: "device" expression: "context:device" embedding_dim: 8
  vocab_file: "{vocab}" default_bucketize_value: 0 }} }}
feature_configs {{ id_feature {{ feature_name: "city" expression: "user:city" embedding_dim: 8 hash_bucket_size: 100 }} }}
feature_configs {{ raw_feature {{ feature_name: "age" expression: "user:age" boundaries: [18, 30, 50] embedding_dim: 4 }} }}
"""


def _config(tmp_path: Path) -> Path:
    vocab = tmp_path / "assets" / "devices.txt"
    vocab.parent.mkdir()
    vocab.write_text("unknown\nios\nandroid\nweb\n")
    path = tmp_path / "pipeline.config"
    path.write_text(CONFIG.format(vocab=vocab))
    return path


def test_fg_json_with_assets_is_self_contained(tmp_path: Path, tools: Runner, script: Runner) -> None:
    out = tmp_path / "fg"
    result = tools("create-fg-json", "--pipeline_config_path", str(_config(tmp_path)), "--fg_output_dir", str(out), "--reserves", "clk,request_id")
    assert result.stdout.strip() == str(out / "fg.json")
    doc = json.loads((out / "fg.json").read_text())
    by_name = {e["feature_name"]: e for e in doc["features"]}
    assert by_name["device"]["vocab_file"] == "devices.txt"
    assert (out / "devices.txt").read_text() == "unknown\nios\nandroid\nweb\n"
    assert by_name["city"]["hash_bucket_size"] == 100
    assert by_name["age"]["boundaries"] == [18.0, 30.0, 50.0]
    assert doc["reserves"] == ["clk", "request_id"]
    # the directory alone computes the features: the vocab is read from the copy
    (tmp_path / "assets" / "devices.txt").unlink()
    pq.write_table(pa.table({"device": ["web", "ios", "tv"], "city": ["a", "b", "c"], "age": [10.0, 40.0, 60.0]}), out / "in.parquet")
    script("rec-fg", "run", "--fg_json", "fg.json", "--input", "in.parquet", "--output", "out.parquet", cwd=out)
    computed = pq.read_table(out / "out.parquet").to_pydict()
    # ids follow the vocab file's line order; unknown "tv" gets default_bucketize_value
    assert computed["device"] == [[3], [1], [0]]
    assert computed["age"] == [[0], [2], [3]]


def test_remove_bucketizer_leaves_raw_values(tmp_path: Path, tools: Runner) -> None:
    out = tmp_path / "fg"
    tools("create-fg-json", "--pipeline_config_path", str(_config(tmp_path)), "--fg_output_dir", str(out), "--remove_bucketizer")
    doc = json.loads((out / "fg.json").read_text())
    for entry in doc["features"]:
        assert not {"vocab_file", "hash_bucket_size", "boundaries", "default_bucketize_value"} & set(entry), entry
    assert sorted(p.name for p in out.iterdir()) == ["fg.json"]  # no bucketizer, no vocab asset


def test_missing_config_is_one_clear_line(tmp_path: Path, tools: Runner) -> None:
    result = tools("create-fg-json", "--pipeline_config_path", str(tmp_path / "nope.config"), "--fg_output_dir", str(tmp_path), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error:") and "not found" in result.stderr

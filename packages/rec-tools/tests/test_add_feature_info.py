"""`rec-tools add-feature-info` through the console script, on Parquet and CSV tables."""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rec_core.config import load_pipeline_config
from rec_core.config_check import check_pipeline_config

Runner = Callable[..., subprocess.CompletedProcess]

TEMPLATE = """
train_input_path: "x" eval_input_path: "x" model_dir: "m"
data_config { dataset_type: ParquetDataset fg_mode: FG_NORMAL label_fields: "clk" }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 4 hash_bucket_size: 10 } }
feature_configs { id_feature { feature_name: "city" expression: "user:city" embedding_dim: 4 hash_bucket_size: 10 } }
feature_configs { raw_feature { feature_name: "age" expression: "user:age" boundaries: [50] embedding_dim: 4 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 4 hash_bucket_size: 10 } }
feature_configs {
  sequence_feature {
    sequence_name: "click" sequence_length: 5
    features { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 4 hash_bucket_size: 10 } }
    features { raw_feature { feature_name: "price" expression: "item:price" } }
  }
}
model_config {
  feature_groups {
    group_name: "deep" feature_names: ["user_id", "city", "age"] group_type: DEEP
    sequence_groups { group_name: "a" feature_names: ["item_id", "click__item_id"] }
    sequence_groups { group_name: "b" feature_names: ["click__price"] }
    sequence_encoders { din_encoder { input: "a" attn_mlp { hidden_units: [8] } } }
    sequence_encoders { pooling_encoder { input: "b" } }
  }
  multi_tower { towers { input: "deep" mlp { hidden_units: [8] } } final { hidden_units: [4] } }
  losses { binary_cross_entropy {} }
}
"""

ROWS = [
    ("user_id", {"embedding_dim": 8, "hash_bucket_size": 5000}, ""),
    ("age", {"embedding_dim": 6, "boundary": [18, 30, 50]}, "ok"),
    ("city", {"embedding_dim": 8}, "coverage 0.1%: DROP IT"),
    ("click__item_id", {"embedding_dim": 16, "hash_bucket_size": 1000}, None),
    ("click__price", {}, "DROP IT"),
]


def _write_table(path: Path, rows: list[tuple[str, object, str | None]]) -> None:
    cells = {"feature": [r[0] for r in rows], "feature_info": [json.dumps(r[1]) if not isinstance(r[1], str) else r[1] for r in rows], "message": [r[2] for r in rows]}
    if path.suffix == ".csv":
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(cells)
            writer.writerows(zip(*cells.values()))
    else:
        pq.write_table(pa.table(cells), path)


@pytest.mark.parametrize("ending", [".parquet", ".csv"])
def test_table_updates_and_drops(tmp_path: Path, tools: Runner, ending: str) -> None:
    template = tmp_path / "template.config"
    template.write_text(TEMPLATE)
    table = tmp_path / f"info{ending}"
    _write_table(table, ROWS)
    out = tmp_path / "out.config"
    result = tools("add-feature-info", "--template_model_config_path", template, "--model_config_path", out, "--config_table_path", table)
    assert "5 feature(s) in the table, 2 dropped" in result.stdout
    config = load_pipeline_config(str(out))
    by_name = {getattr(fc, fc.WhichOneof("feature")).feature_name: getattr(fc, fc.WhichOneof("feature")) for fc in config.feature_configs if fc.WhichOneof("feature") != "sequence_feature"}
    assert set(by_name) == {"user_id", "age", "item_id"}  # city is gone
    assert (by_name["user_id"].embedding_dim, by_name["user_id"].hash_bucket_size) == (8, 5000)
    assert (by_name["age"].embedding_dim, list(by_name["age"].boundaries)) == (6, [18.0, 30.0, 50.0])
    assert (by_name["item_id"].embedding_dim, by_name["item_id"].hash_bucket_size) == (4, 10)  # no row: unchanged
    (seq,) = [fc.sequence_feature for fc in config.feature_configs if fc.WhichOneof("feature") == "sequence_feature"]
    assert [s.id_feature.feature_name for s in seq.features] == ["item_id"]
    assert (seq.features[0].id_feature.embedding_dim, seq.features[0].id_feature.hash_bucket_size) == (16, 1000)
    group = config.model_config.feature_groups[0]
    assert list(group.feature_names) == ["user_id", "age"]
    # sequence group b held only the dropped price: it goes, with the encoder reading it
    assert [sg.group_name for sg in group.sequence_groups] == ["a"]
    assert [e.WhichOneof("seq_module") for e in group.sequence_encoders] == ["din_encoder"]
    check_pipeline_config(config, source=str(out))


def test_bad_feature_info_names_the_row(tmp_path: Path, tools: Runner) -> None:
    template = tmp_path / "template.config"
    template.write_text(TEMPLATE)
    table = tmp_path / "info.parquet"
    _write_table(table, [("user_id", {"embedding_dim": 8}, ""), ("age", "{embedding_dim: 6", "")])
    result = tools("add-feature-info", "--template_model_config_path", template, "--model_config_path", tmp_path / "o.config", "--config_table_path", table, check=False)
    assert result.returncode == 2
    assert "row 2 (feature 'age'): feature_info is not JSON" in result.stderr
    assert not (tmp_path / "o.config").exists()


def test_setting_a_field_the_feature_lacks_is_an_error(tmp_path: Path, tools: Runner) -> None:
    template = tmp_path / "template.config"
    template.write_text(TEMPLATE)
    table = tmp_path / "info.parquet"
    _write_table(table, [("user_id", {"embedding_dim": 8, "boundary": [1, 2]}, "")])
    result = tools("add-feature-info", "--template_model_config_path", template, "--model_config_path", tmp_path / "o.config", "--config_table_path", table, check=False)
    assert result.returncode == 2
    assert "feature 'user_id': the table sets boundaries, which IdFeature does not have" in result.stderr

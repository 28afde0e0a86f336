"""Bad input ends with one clear `error:` line, a non-zero exit, and nothing written to model_dir."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.conftest import QUICKSTART, rec


def _variant(tmp_path: Path, synth_data: dict[str, Path], old: str, new: str) -> Path:
    text = QUICKSTART.read_text()
    assert old in text
    text = text.replace(old, new)
    text = text.replace("examples/quickstart/data/train.parquet", str(synth_data["train"]))
    text = text.replace("examples/quickstart/data/eval.parquet", str(synth_data["eval"]))
    text = text.replace("experiments/quickstart_deepfm", str(tmp_path / "model"))
    path = tmp_path / "bad.config"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("num_epochs: 2", "num_epochs: 2\n  num_epocs: 3", ['train_config.num_epocs', 'unknown field "num_epocs"']),
        ("batch_size: 512", 'batch_size: "big"', ["data_config.batch_size", "expected uint32"]),
        ('"age", "price"]', '"age", "pricee"]', ["model_config.feature_groups[2].feature_names[6]", '"pricee"']),
    ],
    ids=["unknown-field", "wrong-type", "missing-feature"],
)
def test_bad_config_names_the_field_and_writes_nothing(
    tmp_path: Path, synth_data: dict[str, Path], old: str, new: str, expected: list[str]
) -> None:
    config = _variant(tmp_path, synth_data, old, new)
    result = rec("rec_dist.cli.train", "--pipeline_config_path", str(config))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for fragment in expected:
        assert fragment in lines[0]
    assert not (tmp_path / "model").exists()


def test_missing_input_path_is_named(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    config = _variant(tmp_path, synth_data, "num_epochs: 2", "num_epochs: 1")
    missing = tmp_path / "nowhere" / "*.parquet"
    result = rec("rec_dist.cli.train", "--pipeline_config_path", str(config), "--train_input_path", str(missing))
    assert result.returncode == 2
    assert str(missing) in result.stderr.splitlines()[-1]
    assert not (tmp_path / "model").exists()


def test_malformed_csv_row_is_named(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    lines = []
    pacsv.write_csv(pq.read_table(synth_data["train"]).slice(0, 2000), tmp_path / "ok.csv")
    lines = (tmp_path / "ok.csv").read_text().splitlines()
    lines[1200] = ",".join(lines[1200].split(",")[:5])  # a row with 5 of its 8 columns
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("\n".join(lines) + "\n")
    config = _variant(tmp_path, synth_data, "dataset_type: ParquetDataset", "dataset_type: CsvDataset\n  with_header: true")
    result = rec("rec_dist.cli.train", "--pipeline_config_path", str(config), "--train_input_path", str(bad_csv))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and str(bad_csv) in last and "line 1201" in last

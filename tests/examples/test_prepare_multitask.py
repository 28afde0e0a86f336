"""examples/aliccp and examples/taobao prepare_data.py on the real samples: columns, split, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.examples._load import data_dir, prepare_module

aliccp = prepare_module("aliccp")
taobao = prepare_module("taobao")


def test_aliccp_splits_keep_rows_and_labels(tmp_path: Path) -> None:
    assert aliccp.main(["--data_dir", str(data_dir("aliccp_sample")), "--output_dir", str(tmp_path)]) == 0
    tables = {name: pq.read_table(tmp_path / f"{name}.parquet") for name in ("train", "valid", "test")}
    # row counts and click / purchase positives of PROVENANCE.md
    assert {n: (t.num_rows, sum(t.column("click").to_pylist()), sum(t.column("purchase").to_pylist())) for n, t in tables.items()} == {
        "train": (100, 7, 1), "valid": (50, 3, 1), "test": (50, 2, 1),
    }  # fmt: skip
    first = tables["train"].slice(0, 1).to_pylist()[0]
    # ali_ccp_train_sample.csv line 2
    assert (first["f205"], first["f126"], first["d109_14"]) == (0, 0, pytest.approx(0.4734))
    assert len(tables["train"].column_names) == 33


def test_aliccp_bad_label_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    shutil.copytree(data_dir("aliccp_sample"), src)
    path = src / "ali_ccp_val_sample.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = "2" + lines[3][1:]
    path.chmod(0o644)
    path.write_text("".join(lines))
    assert aliccp.main(["--data_dir", str(src), "--output_dir", str(tmp_path / "out")]) == 1
    assert f"{path}:4: click must be 0 or 1, got '2'" in capsys.readouterr().err


def test_taobao_split_keeps_users_together(tmp_path: Path) -> None:
    assert taobao.main(["--data_dir", str(data_dir("taobao_easyrec")), "--output_dir", str(tmp_path)]) == 0
    train, test = (pq.read_table(tmp_path / f"{n}.parquet") for n in ("train", "test"))
    assert train.num_rows + test.num_rows == 10_000 and 1_500 < test.num_rows < 2_500
    assert not set(train.column("user_id").to_pylist()) & set(test.column("user_id").to_pylist())
    assert sum(train.column("clk").to_pylist()) + sum(test.column("clk").to_pylist()) == 533
    row = next(r for r in train.to_pylist() if r["brand"] is None)  # literal NULL -> null
    assert row["brand"] is None and isinstance(row["tag_category_list"], list)
    tagged = next(r for r in train.to_pylist() + test.to_pylist() if r["adgroup_id"] == "620392")
    assert tagged["tag_category_list"][:2] == ["4281", "4281"] and tagged["price"] == 23


def test_taobao_short_line_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "taobao_test_data"
    lines = (data_dir("taobao_easyrec") / "taobao_test_data").read_text().splitlines(keepends=True)
    lines[41] = lines[41].rsplit(",", 1)[0] + "\n"
    src.write_text("".join(lines))
    assert taobao.main(["--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out")]) == 1
    assert f"{src}:42: expected 20 fields, got 19" in capsys.readouterr().err

"""examples/aliccp and examples/taobao prepare_data.py on files written here in the samples'
formats: columns, types, split, errors. benchmarks/quality.py runs the scripts on the real files."""

from __future__ import annotations

import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.examples._load import prepare_module

aliccp = prepare_module("aliccp")
taobao = prepare_module("taobao")


def aliccp_row(click: int, purchase: int, k: int) -> str:
    return ",".join([str(click), str(purchase)] + [str(k + i) for i in range(len(aliccp.SPARSE))] + [f"0.{k}5" for _ in aliccp.DENSE])


def write_aliccp(src: Path) -> None:
    src.mkdir()
    for n, (name, _, _) in enumerate(aliccp.SPLITS):
        rows = [aliccp_row(int(k == 1), int(k == 1 and n == 0), 10 * n + k) for k in range(3)]
        (src / name).write_text(",".join(aliccp.HEADER) + "\n" + "\n".join(rows) + "\n")


def test_aliccp_splits_keep_rows_labels_and_types(tmp_path: Path) -> None:
    write_aliccp(tmp_path / "src")
    assert aliccp.main(["--data_dir", str(tmp_path / "src"), "--output_dir", str(tmp_path / "out"), "--no_count_check"]) == 0
    tables = {name: pq.read_table(tmp_path / "out" / f"{name}.parquet") for name in ("train", "valid", "test")}
    assert {n: (t.num_rows, sum(t.column("click").to_pylist()), sum(t.column("purchase").to_pylist())) for n, t in tables.items()} == {
        "train": (3, 1, 1), "valid": (3, 1, 0), "test": (3, 1, 0),
    }  # fmt: skip
    # valid row 2: sparse values 11, 12, ... in header order (f101 first), every dense value 0.115
    row = tables["valid"].slice(1, 1).to_pylist()[0]
    assert (row["f101"], row["f121"], row["f150_14"], row["d109_14"]) == (11, 12, 11 + len(aliccp.SPARSE) - 1, pytest.approx(0.115))
    assert len(tables["train"].column_names) == 33 and not any(c[0].isdigit() for c in tables["train"].column_names)


def test_aliccp_counts_are_checked_without_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_aliccp(tmp_path / "src")
    assert aliccp.main(["--data_dir", str(tmp_path / "src"), "--output_dir", str(tmp_path / "out")]) == 1
    assert "3 rows, expected 100" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_aliccp_bad_label_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_aliccp(tmp_path / "src")
    path = tmp_path / "src" / "ali_ccp_val_sample.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = "2" + lines[3][1:]
    path.write_text("".join(lines))
    assert aliccp.main(["--data_dir", str(tmp_path / "src"), "--output_dir", str(tmp_path / "out"), "--no_count_check"]) == 1
    assert f"{path}:4: click must be 0 or 1, got '2'" in capsys.readouterr().err


def taobao_line(clk: int, buy: int, user: str, brand: str, tags: str, price: int) -> str:
    strings = dict.fromkeys(taobao.STRINGS, "7") | {"user_id": user, "brand": brand, "adgroup_id": f"ad{user}"}
    return ",".join([str(clk), str(buy), *(strings[s] for s in taobao.STRINGS), tags, tags, str(price)])


# users whose crc32 % 5 is 0 go to test; find two of each kind
USERS = [str(u) for u in range(100)]
TEST_USERS = [u for u in USERS if zlib.crc32(u.encode()) % taobao.TEST_SHARE == 0][:2]
TRAIN_USERS = [u for u in USERS if zlib.crc32(u.encode()) % taobao.TEST_SHARE != 0][:2]


def write_taobao(src: Path) -> Path:
    src.mkdir()
    rows = [taobao_line(int(i % 2 == 0), 0, u, "NULL" if i == 1 else "b", "4281|4281|9" if i == 0 else "", i)
            for i, u in enumerate(TRAIN_USERS + TEST_USERS + TRAIN_USERS)]  # fmt: skip
    path = src / "taobao_test_data"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_taobao_split_keeps_users_together_and_types(tmp_path: Path) -> None:
    write_taobao(tmp_path / "src")
    assert taobao.main(["--data_dir", str(tmp_path / "src"), "--output_dir", str(tmp_path / "out"), "--no_count_check"]) == 0
    train, test = (pq.read_table(tmp_path / "out" / f"{n}.parquet") for n in ("train", "test"))
    assert (train.num_rows, test.num_rows) == (4, 2)
    assert set(train.column("user_id").to_pylist()) == set(TRAIN_USERS) and set(test.column("user_id").to_pylist()) == set(TEST_USERS)
    rows = {r["price"]: r for r in train.to_pylist()}
    assert rows[0]["tag_category_list"] == ["4281", "4281", "9"] and rows[4]["tag_category_list"] == []
    assert rows[1]["brand"] is None and rows[0]["brand"] == "b"  # the literal NULL is null
    assert sum(train.column("clk").to_pylist()) + sum(test.column("clk").to_pylist()) == 3


def test_taobao_short_line_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_taobao(tmp_path / "src")
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].rsplit(",", 1)[0] + "\n"
    path.write_text("".join(lines))
    assert taobao.main(["--data_dir", str(tmp_path / "src"), "--output_dir", str(tmp_path / "out"), "--no_count_check"]) == 1
    assert f"{path}:3: expected 20 fields, got 19" in capsys.readouterr().err

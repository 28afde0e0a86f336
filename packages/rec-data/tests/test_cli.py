from __future__ import annotations

import os

import pytest

from rec_data.cli import main

CONFIG = os.path.join(os.path.dirname(__file__), "data", "deepfm_fg_normal.config")


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return int(exit_info.value.code or 0)


def test_synth_then_inspect_parquet(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = str(tmp_path / "train")
    args = ["synth", "--pipeline_config_path", CONFIG, "--num_rows", "1000", "--output", out, "--num_files", "2"]
    assert _run(args + ["--seed", "1", "--label_seed", "3"]) == 0
    assert capsys.readouterr().out.split() == [f"{out}/part-0.parquet", f"{out}/part-1.parquet"]
    assert _run(["inspect", out, "--num_rows", "2"]) == 0
    text = capsys.readouterr().out
    assert "(parquet, 2 file(s)" in text and "rows: 1000" in text
    assert "  user_id: int64" in text and "row 1:" in text and "row 2:" not in text
    assert "\\x1d" in text  # separators shown escaped


def test_synth_then_inspect_csv(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = str(tmp_path / "d.csv")
    assert _run(["synth", "--pipeline_config_path", CONFIG, "--num_rows", "40", "--output", out]) == 0
    capsys.readouterr()
    # The config has no header and no input_fields: columns must be named on the command line.
    assert _run(["inspect", out]) == 2
    assert "error: data_config.input_fields" in capsys.readouterr().err
    fields = "user_id:INT64;gender:STRING;age_level:INT64;item_id:INT64;cate:INT64;price:FLOAT;ctr_7d:FLOAT;emb:STRING;cate_ctr_map:STRING;cate_key:STRING;click_seq__item_id:STRING;click_seq__price:STRING;tags:STRING;clk:INT64;"
    assert _run(["inspect", out, "--input_fields_str", fields, "--num_rows", "1"]) == 0
    text = capsys.readouterr().out
    assert "(csv, 1 file(s)" in text and "rows: 40" in text and "  clk: int64" in text


def test_errors_are_one_line_with_exit_2(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    assert _run(["inspect", str(tmp_path / "missing*.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no data file matches input path") and "Traceback" not in err
    assert err.count("\n") == 1
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    assert _run(["inspect", str(tmp_path / "missing*.parquet")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_bad_config_is_exit_2(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.config"
    bad.write_text("data_config { no_such_field: 1 }\n")
    assert _run(["synth", "--pipeline_config_path", str(bad), "--num_rows", "5", "--output", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.parametrize("fmt,ending", [("arrow", ".arrow"), (None, ".feather")])
def test_synth_then_inspect_arrow(tmp_path, capsys, fmt, ending) -> None:  # type: ignore[no-untyped-def]
    out = str(tmp_path / f"d{ending}")
    args = ["synth", "--pipeline_config_path", CONFIG, "--num_rows", "300", "--output", out]
    assert _run(args + (["--format", fmt] if fmt else [])) == 0
    assert capsys.readouterr().out.split() == [out]
    assert _run(["inspect", out, "--num_rows", "1"]) == 0
    text = capsys.readouterr().out
    assert "(arrow, 1 file(s), " in text and "rows: 300" in text and "  user_id: int64" in text
    assert _run(["inspect", out, "--format", "ArrowReader", "--num_rows", "0"]) == 0
    assert _run(["inspect", out, "--format", "orc"]) == 2
    assert "unknown rec.readers plugin 'orc'" in capsys.readouterr().err

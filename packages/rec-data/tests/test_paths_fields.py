from __future__ import annotations

import fsspec
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rec_core.errors import ConfigError, DataError
from rec_data.fields import (
    FIELD_TYPE_NAMES,
    arrow_type,
    format_fields,
    input_fields,
    parse_input_fields_str,
    parse_type_name,
)
from rec_data.paths import expand_input_path, split_path_list

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
_odps_scalar = {"INT64": ["BIGINT", "INT64"], "INT32": ["INT", "INT32"]}


def _spell(type_name: str, draw) -> str:  # type: ignore[no-untyped-def]
    """Render a FieldType name in a random ODPS or canonical spelling."""
    def scalar(s: str) -> str:
        return draw(st.sampled_from(_odps_scalar.get(s, [s])))

    pad = lambda: draw(st.sampled_from(["", " ", "  "]))  # noqa: E731
    if draw(st.booleans()):
        text = type_name
    elif type_name.startswith("ARRAY_ARRAY_"):
        text = f"ARRAY<{pad()}ARRAY<{scalar(type_name[12:])}>{pad()}>"
    elif type_name.startswith("ARRAY_"):
        text = f"ARRAY<{pad()}{scalar(type_name[6:])}{pad()}>"
    elif type_name.startswith("MAP_"):
        key = next(k for k in ("STRING", "INT64", "INT32") if type_name.startswith(f"MAP_{k}_"))
        text = f"MAP<{scalar(key)},{pad()}{scalar(type_name[len(key) + 5:])}>"
    else:
        text = scalar(type_name)
    return draw(st.sampled_from([text, text.lower(), text.title()]))


@st.composite
def _fields_and_text(draw):  # type: ignore[no-untyped-def]
    names = draw(st.lists(_names, min_size=1, max_size=6, unique=True))
    types = [draw(st.sampled_from(FIELD_TYPE_NAMES)) for _ in names]
    parts = [f"{n}:{_spell(t, draw)}" for n, t in zip(names, types, strict=True)]
    text = ";".join(parts) + draw(st.sampled_from(["", ";"]))
    return list(zip(names, types, strict=True)), text


@given(_fields_and_text())
def test_input_fields_str_round_trips_every_spelling(case) -> None:  # type: ignore[no-untyped-def]
    fields, text = case
    assert parse_input_fields_str(text) == fields
    assert parse_input_fields_str(format_fields(fields)) == fields


@given(st.lists(st.from_regex(r"[a-z0-9_/.*:\-]{1,20}", fullmatch=True), min_size=1, max_size=5))
def test_path_list_split_inverts_join(paths: list[str]) -> None:
    assert split_path_list(",".join(paths)) == paths
    assert split_path_list(" , ".join(paths) + ",") == paths


def test_odps_spellings() -> None:
    assert parse_type_name("array<bigint>") == "ARRAY_INT64"
    assert parse_type_name("MAP<STRING, FLOAT>") == "MAP_STRING_FLOAT"
    assert parse_type_name("Array< Array<double> >") == "ARRAY_ARRAY_DOUBLE"
    assert arrow_type("MAP_INT32_STRING") == pa.map_(pa.int32(), pa.string())
    assert arrow_type("ARRAY_ARRAY_FLOAT") == pa.list_(pa.list_(pa.float32()))


@pytest.mark.parametrize("text", ["a:WHATEVER;", "a:MAP<FLOAT,FLOAT>;", "a;", ":INT64;", "a:ARRAY<MAP<STRING,INT64>>"])
def test_bad_input_fields_str(text: str) -> None:
    with pytest.raises(ConfigError, match="input_fields_str"):
        parse_input_fields_str(text)


def test_input_fields_str_wins_over_input_fields(make_config) -> None:  # type: ignore[no-untyped-def]
    make_data_config = make_config
    config = make_data_config(input_fields=[("a", "INT64")], input_fields_str="b:STRING;")
    assert input_fields(config) == [("b", "STRING")]
    assert input_fields(make_data_config(input_fields=[("a", "INT64"), ("c", "FLOAT")])) == [("a", "INT64"), ("c", "FLOAT")]
    assert input_fields(make_data_config()) is None


def test_expand_files_globs_directories(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "d").mkdir()
    for name in ["d/b.parquet", "d/a.parquet", "d/_SUCCESS", "d/.part-0.parquet.tmp-1", "c.csv"]:
        (tmp_path / name).write_text("x")
    got = expand_input_path(f"{tmp_path}/d, {tmp_path}/*.csv,{tmp_path}/d/a.parquet")
    assert got == [f"{tmp_path}/d/a.parquet", f"{tmp_path}/d/b.parquet", f"{tmp_path}/c.csv"]


def test_expand_memory_urls() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe({"/paths_t/x/1.parquet": b"1", "/paths_t/x/2.parquet": b"2"})
    assert expand_input_path("memory://paths_t/x/*.parquet") == [
        "memory:///paths_t/x/1.parquet",
        "memory:///paths_t/x/2.parquet",
    ]


def test_expand_names_the_unmatched_pattern(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.parquet").write_text("x")
    with pytest.raises(DataError, match=r"no data file matches input path '.*/nope\*\.parquet'"):
        expand_input_path(f"{tmp_path}/a.parquet,{tmp_path}/nope*.parquet")
    with pytest.raises(DataError, match="empty"):
        expand_input_path(" , ")

"""Loading, saving and inspecting pipeline configs."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import fsspec
import pytest
from google.protobuf import text_format

from rec_core.config import (
    config_to_kwargs,
    load_pipeline_config,
    save_message,
    which_msg,
    which_msg_type,
)
from rec_core.errors import ConfigError
from rec_core.protos import data_pb2, feature_pb2, model_pb2, optimizer_pb2, pipeline_pb2

DATA = Path(__file__).resolve().parent / "data"

MINIMAL = """
train_input_path: "a"
eval_input_path: "b"
model_dir: "m"
data_config {
  batch_size: 512
  dataset_type: ParquetDataset
  label_fields: "label"
}
"""


def _write(tmp_path: Path, text: str, name: str = "pipeline.config") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def rec_log(caplog: pytest.LogCaptureFixture):
    # the "rec" logger does not propagate to the root logger caplog listens on
    logger = logging.getLogger("rec")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING, logger="rec")
    yield caplog
    logger.removeHandler(caplog.handler)


def test_load_text_config() -> None:
    config = load_pipeline_config(str(DATA / "deepfm_criteo.config"))
    assert isinstance(config, pipeline_pb2.EasyRecConfig)
    assert config.model_config.WhichOneof("model") == "deepfm"
    assert config.data_config.batch_size == 8192


def test_load_json_config_matches_text_equivalent() -> None:
    from_json = load_pipeline_config(str(DATA / "deepfm_minimal.json"))
    assert from_json.feature_configs[0].id_feature.hash_bucket_size == 100000
    assert from_json.data_config.fg_mode == data_pb2.FG_NORMAL
    assert list(from_json.model_config.deepfm.deep.hidden_units) == [64, 32]


def test_load_through_fsspec_url() -> None:
    with fsspec.open("memory://configs/p.config", "w") as f:
        f.write(MINIMAL)
    config = load_pipeline_config("memory://configs/p.config")
    assert config.data_config.batch_size == 512


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.config")
    with pytest.raises(ConfigError) as e:
        load_pipeline_config(missing)
    assert missing in str(e.value) and "not found" in str(e.value)


def test_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory"):
        load_pipeline_config(str(tmp_path))


def test_unknown_field_names_file_line_column_and_path(tmp_path: Path) -> None:
    text = MINIMAL + 'feature_configs { id_feature { feature_name: "a" expression: "user:a" embedding_dim: 4 } }\n'
    text += 'feature_configs {\n  raw_feature {\n    feature_name: "b"\n    foo: 3\n  }\n}\n'
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_pipeline_config(path)
    msg = str(e.value)
    foo_line = text.splitlines().index("    foo: 3") + 1
    assert msg.startswith(f"{path}: feature_configs[1].raw_feature.foo: line {foo_line}, column 5:")
    assert 'unknown field "foo" in message RawFeature' in msg
    assert e.value.path == "feature_configs[1].raw_feature.foo" and e.value.source == path


def test_unknown_field_suggests_close_names(tmp_path: Path) -> None:
    path = _write(tmp_path, "data_config { batch_sizee: 3 }")
    with pytest.raises(ConfigError, match="did you mean batch_size"):
        load_pipeline_config(path)


def test_unknown_field_allowed_when_asked(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "data_config { future_option: 3 }")
    config = load_pipeline_config(path, allow_unknown_field=True)
    assert config.data_config.batch_size == 512


@pytest.mark.parametrize(
    ("snippet", "path", "expected"),
    [
        ("data_config { batch_size: abc }", "data_config.batch_size", "expected uint32"),
        ("data_config { batch_size: -4 }", "data_config.batch_size", "expected uint32"),
        ("data_config { shuffle: maybe }", "data_config.shuffle", "expected bool"),
        ("data_config { fg_mode: FG_FOO }", "data_config.fg_mode", "expected one of FG_NONE, FG_NORMAL"),
        ('data_config { label_fields: "a" label_fields: 3 }', "data_config.label_fields[1]", "expected string"),
        (
            "model_config { deepfm { deep { hidden_units: [64, 32, x] } } }",
            "model_config.deepfm.deep.hidden_units[2]",
            "expected uint32",
        ),
        (
            'model_config { feature_groups { group_name: "a" } feature_groups { group_type: DEEPER } }',
            "model_config.feature_groups[1].group_type",
            "expected one of DEEP, WIDE, SEQUENCE, JAGGED_SEQUENCE",
        ),
    ],
)
def test_wrong_type_names_field_path_and_expected_type(tmp_path: Path, snippet: str, path: str, expected: str) -> None:
    file = _write(tmp_path, snippet)
    with pytest.raises(ConfigError) as e:
        load_pipeline_config(file)
    assert e.value.path == path
    assert expected in str(e.value)
    assert "line 1, column" in str(e.value)


def test_syntax_error_reports_position(tmp_path: Path) -> None:
    path = _write(tmp_path, "data_config {\n  batch_size: 3\n")
    with pytest.raises(ConfigError) as e:
        load_pipeline_config(path)
    assert 'line 2, column 15: syntax error: Expected "}"' in str(e.value)
    assert "wrong value" not in str(e.value)


def test_json_errors_name_field_path(tmp_path: Path) -> None:
    bad = {"feature_configs": [{"id_feature": {"feature_name": "x"}}, {"raw_feature": {"boundaries": [1, "q"]}}]}
    path = _write(tmp_path, json.dumps(bad), "p.json")
    with pytest.raises(ConfigError) as e:
        load_pipeline_config(path)
    assert e.value.path == "feature_configs[1].raw_feature.boundaries[1]" and "expected float" in str(e.value)

    path = _write(tmp_path, json.dumps({"data_config": {"fgMode": "FG_X"}}), "q.json")
    with pytest.raises(ConfigError) as e:
        load_pipeline_config(path)
    assert e.value.path == "data_config.fg_mode" and "FG_DAG" in str(e.value)

    path = _write(tmp_path, json.dumps({"model_config": {"deepfn": {}}}), "r.json")
    with pytest.raises(ConfigError, match='unknown field "deepfn" in message ModelConfig; did you mean deepfm'):
        load_pipeline_config(path)

    path = _write(tmp_path, '{"data_config": {', "s.json")
    with pytest.raises(ConfigError, match="line 1, column 18: invalid JSON"):
        load_pipeline_config(path)


@pytest.mark.parametrize(
    ("settings", "mode", "warned"),
    [
        ("fg_encoded: true", data_pb2.FG_NONE, True),
        ("fg_encoded: false", data_pb2.FG_DAG, True),  # fg_threads defaults to 1
        ("fg_encoded: false fg_threads: 0", data_pb2.FG_NORMAL, True),
        ("fg_encoded: false fg_mode: FG_BUCKETIZE", data_pb2.FG_BUCKETIZE, False),
        ("", data_pb2.FG_NONE, False),
    ],
)
def test_fg_encoded_maps_to_fg_mode(tmp_path: Path, rec_log, settings: str, mode: int, warned: bool) -> None:
    path = _write(tmp_path, f"data_config {{ dataset_type: ParquetDataset {settings} }}")
    config = load_pipeline_config(path)
    assert config.data_config.fg_mode == mode
    assert any("fg_encoded is deprecated" in r.getMessage() for r in rec_log.records) == warned


def test_save_message_round_trips_atomically(tmp_path: Path) -> None:
    config = load_pipeline_config(str(DATA / "multi_tower_din.config"))
    out = tmp_path / "sub" / "dir" / "pipeline.config"
    save_message(config, str(out))
    assert load_pipeline_config(str(out)) == config
    # no temporary files left beside the result
    assert os.listdir(out.parent) == ["pipeline.config"]


def test_save_message_replaces_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "pipeline.config"
    out.write_text("old")
    msg = data_pb2.DataConfig(batch_size=7, dataset_type=data_pb2.CsvDataset)
    save_message(msg, str(out))
    assert text_format.Parse(out.read_text(), data_pb2.DataConfig()) == msg


def test_save_message_keeps_old_file_when_write_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "pipeline.config"
    out.write_text("old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_message(data_pb2.DataConfig(batch_size=7), str(out))
    assert out.read_text() == "old"
    assert os.listdir(tmp_path) == ["pipeline.config"]


def test_save_message_to_url() -> None:
    save_message(data_pb2.DataConfig(batch_size=9), "memory://out/data.config")
    with fsspec.open("memory://out/data.config", "r") as f:
        assert "batch_size: 9" in f.read()


def test_config_to_kwargs_fills_defaults_and_nests() -> None:
    mlp = config_to_kwargs(model_pb2.ModelConfig(deepfm={"deep": {"hidden_units": [8, 4]}}).deepfm)
    assert mlp == {
        "deep": {"hidden_units": [8, 4], "dropout_ratio": [], "activation": "nn.ReLU", "use_bn": False, "bias": True, "use_ln": False},
        "wide_embedding_dim": 4,
        "wide_init_fn": "",
    }
    feat = feature_pb2.IdFeature(feature_name="a", expression="user:a", embedding_dim=4, vocab_dict={"x": 2})
    kw = config_to_kwargs(feat)
    assert kw["pooling"] == "sum" and kw["separator"] == "\x1d" and kw["vocab_dict"] == {"x": 2}
    assert "zch" not in kw and "hash_bucket_size" in kw and kw["hash_bucket_size"] == 0
    assert config_to_kwargs(data_pb2.DataConfig())["dataset_type"] == "OdpsDataset"
    raw = config_to_kwargs(feature_pb2.RawFeature(feature_name="r", expression="user:r"))
    assert "autodis" not in raw and "mlp" not in raw  # unset oneof members stay out


def test_config_to_kwargs_struct_becomes_dict() -> None:
    feat = feature_pb2.CustomFeature(feature_name="c", operator_name="op", operator_lib_file="lib.so")
    feat.operator_params.update({"threshold": 0.5, "mode": "fast"})
    assert config_to_kwargs(feat)["operator_params"] == {"threshold": 0.5, "mode": "fast"}


def test_which_msg() -> None:
    config = load_pipeline_config(str(DATA / "multi_tower_din.config"))
    assert which_msg(config.model_config, "model") == "multi_tower_din"
    assert which_msg_type(config.model_config, "model") == "MultiTowerDIN"
    assert which_msg(config.feature_configs[5], "feature") == "sequence_id_feature"
    assert which_msg_type(config.feature_configs[5], "feature") == "IdFeature"
    assert which_msg(config.train_config.sparse_optimizer, "learning_rate") == "constant_learning_rate"
    with pytest.raises(ConfigError, match="none of .*deepfm.* is set in ModelConfig"):
        which_msg(model_pb2.ModelConfig(), "model")
    with pytest.raises(ConfigError, match="no oneof 'modle'"):
        which_msg(model_pb2.ModelConfig(), "modle")
    assert which_msg_type(optimizer_pb2.SparseOptimizer(adam_optimizer={"lr": 1}), "optimizer") == "FusedAdamOptimizer"


def test_two_oneof_members_warn_and_last_wins(tmp_path: Path, rec_log) -> None:
    text = "train_config {\n  sparse_optimizer {\n    adagrad_optimizer { lr: 1 }\n    adam_optimizer { lr: 2 }\n  }\n}\n"
    config = load_pipeline_config(_write(tmp_path, text))
    assert config.train_config.sparse_optimizer.WhichOneof("optimizer") == "adam_optimizer"
    warnings = [r.getMessage() for r in rec_log.records]
    assert any("train_config.sparse_optimizer.adam_optimizer: line 4: two members of one oneof" in w for w in warnings)

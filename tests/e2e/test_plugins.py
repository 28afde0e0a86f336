"""Four third-party plugins (tests/plugins/*), installed as their own distributions, in one pipeline.

The data is JSON lines (rec-plugin-jsonl's reader), a custom_feature runs rec-plugin-featureop's
`Clip` operator, the model is rec-plugin-model's FMRanker and rec-plugin-exporter writes the export.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rec_core.config import edit_config, load_pipeline_config, save_message
from rec_core.protos import feature_pb2, model_pb2
from tests.conftest import QUICKSTART, rec, run

pytestmark = pytest.mark.slow

CLIPPED_PRICE = """
custom_feature {
  feature_name: "price_clipped" operator_name: "Clip" operator_lib_file: "" expression: "item:price"
  operator_params { fields { key: "upper" value { number_value: 50 } } }
  boundaries: [1, 5, 10, 20, 50] embedding_dim: 8
}
"""


def _to_jsonl(parquet: Path, out: Path) -> Path:
    from rec_data.writers import create_writer

    with create_writer(str(out), 0, kind="jsonl") as w:
        w.write(pq.read_table(parquet))
    return out


def _plugin_config(path: Path, train: Path, evals: Path, model_dir: Path) -> Path:
    """The quickstart config with an FM over every sparse feature (8 wide) plus the clipped price."""
    from google.protobuf import text_format

    config = load_pipeline_config(str(QUICKSTART))
    edit_config(config, {"train_input_path": str(train), "eval_input_path": str(evals), "model_dir": str(model_dir),
                         "data_config.batch_size": 256, "train_config.num_epochs": 1})
    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        if kind != "raw_feature" or getattr(fc, kind).boundaries:
            getattr(fc, kind).embedding_dim = 8
    config.feature_configs.append(text_format.Parse(CLIPPED_PRICE, feature_pb2.FeatureConfig()))
    sparse = ["user_id", "item_id", "category", "device", "hour", "age", "price_clipped"]
    model = config.model_config
    del model.feature_groups[:]
    model.feature_groups.add(group_name="wide", feature_names=sparse, group_type=model_pb2.WIDE)
    model.feature_groups.add(group_name="fm", feature_names=sparse, group_type=model_pb2.DEEP)
    model.custom_model.model_class = "FMRanker"  # rec-plugin-model's rec.models entry point
    save_message(config, str(path))
    return path


def test_one_pipeline_uses_the_four_plugins(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    listing = rec("rec_core.cli.config_cli", "plugins")
    assert listing.returncode == 0, listing.stderr
    listed = {tuple(line.split()[:3]) for line in listing.stdout.splitlines()}
    for plugin in [("JsonLinesReader", "rec-plugin-jsonl"), ("FMRanker", "rec-plugin-model"),
                   ("custom_feature.Clip", "rec-plugin-featureop"), ("checksummed", "rec-plugin-exporter")]:
        assert (*plugin, "0.1.0") in listed, listing.stdout
    train = _to_jsonl(synth_data["train"], tmp_path / "train.jsonl")
    evals = _to_jsonl(synth_data["eval"], tmp_path / "eval.jsonl")
    config = _plugin_config(tmp_path / "pipeline.config", train, evals, tmp_path / "model")

    trained = rec("rec_dist.cli.train", "--pipeline_config_path", str(config))
    assert trained.returncode == 0, trained.stderr[-3000:]
    auc = re.search(r"final eval: .*auc=([0-9.]+)", trained.stdout)
    assert auc and float(auc.group(1)) > 0.6, trained.stdout[-2000:]

    export_dir = tmp_path / "export"
    # QUANT_EMB=0: float32 tables (INT8 by default), so export and checkpoint agree to float precision
    exported = run([sys.executable, "-m", "rec_export.cli", "--pipeline_config_path", str(config),
                    "--export_dir", str(export_dir), "--exporter", "checksummed"], env={"QUANT_EMB": "0"})
    assert exported.returncode == 0, exported.stderr[-3000:]
    acc = json.loads((export_dir / "model_acc.json").read_text())
    assert acc["EXPORTER"] == "checksummed" and len(acc["MODEL_SHA256"]) == 64
    assert (export_dir / "checksummed_model.pt").is_file()
    # serving rebuilds FG from fg.json, so the operator plugin runs there too
    fg = json.loads((export_dir / "fg.json").read_text())["features"]
    assert [f["operator_name"] for f in fg if f.get("feature_name") == "price_clipped"] == ["Clip"]

    from rec_export.predictor import Predictor
    from rec_export.testing import checkpoint_predictions

    rows = pq.read_table(synth_data["eval"]).slice(0, 200)
    got = Predictor(str(export_dir)).predict(rows)
    expected = checkpoint_predictions(str(config), rows)
    assert sorted(got) == ["logits", "probs"]
    assert abs(got["probs"] - expected["probs"]).max() < 1e-5


@pytest.mark.parametrize(
    ("module", "args", "installed"),
    [
        # a custom model no installed package provides
        ("rec_dist.cli.train", [], r"unknown rec.models plugin 'NoSuchModel'; installed: .*DeepFM.*FMRanker"),
        ("rec_export.cli", ["--exporter", "onnx"], r"unknown rec.exporters plugin 'onnx'; installed: .*checksummed.*torchscript"),
    ],
)
def test_an_unknown_plugin_name_lists_the_installed_ones(tmp_path: Path, module: str, args: list[str], installed: str) -> None:
    config = load_pipeline_config(str(QUICKSTART))
    edit_config(config, {"model_dir": str(tmp_path / "model")})
    if module == "rec_dist.cli.train":
        config.model_config.custom_model.model_class = "NoSuchModel"
    else:
        args = [*args, "--export_dir", str(tmp_path / "x")]
    save_message(config, str(tmp_path / "p.config"))
    result = rec(module, "--pipeline_config_path", str(tmp_path / "p.config"), *args)
    assert result.returncode != 0
    assert re.search(installed, result.stderr), result.stderr[-3000:]

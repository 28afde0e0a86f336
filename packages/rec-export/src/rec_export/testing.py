"""A conformance check for `rec.exporters` plugins, run by rec's own exporters and third parties alike.

`check_exporter` exports a checkpoint with the named exporter (float32 tables), loads the result
the way a service does (`Predictor`), and requires the predictions of the checkpoint itself.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa

from rec_export.acc import AccConfig
from rec_export.exporter import export
from rec_export.layout import EXPORTER_KEY, MODEL_ACC
from rec_export.predictor import Predictor

__all__ = ["check_exporter", "checkpoint_predictions"]


def checkpoint_predictions(pipeline_config_path: str, rows: pa.Table) -> dict[str, np.ndarray]:
    """Predictions of the config's latest checkpoint, in eager mode, for raw rows."""
    import torch

    from rec_dist.predict import load_checkpoint_model
    from rec_dist.setup import build_features, prepare_config

    config = prepare_config(pipeline_config_path)
    _, parser = build_features(config, with_labels=False)
    model = load_checkpoint_model(config, None)
    with torch.no_grad():
        out = model.predict(parser(rows.combine_chunks().to_batches()[0]))
    return {k: v.numpy() for k, v in out.items()}


def check_exporter(name: str, pipeline_config_path: str, export_dir: str, rows: pa.Table, atol: float = 1e-5) -> Predictor:
    """Export with exporter `name` and assert the export scores `rows` as the checkpoint does."""
    export(pipeline_config_path, export_dir, exporter=name, acc=AccConfig(quant_emb=""))
    with open(os.path.join(export_dir, MODEL_ACC)) as f:
        assert json.load(f)[EXPORTER_KEY] == name, f"{MODEL_ACC} does not name exporter {name!r}"
    predictor = Predictor(export_dir)
    got, expected = predictor.predict(rows), checkpoint_predictions(pipeline_config_path, rows)
    assert sorted(got) == sorted(expected), f"the export predicts {sorted(got)}, the checkpoint {sorted(expected)}"
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=0, atol=atol, err_msg=f"prediction {key!r}")
    return predictor

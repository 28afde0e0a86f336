"""The export directory: file names and model_acc.json, readable without torch."""

from __future__ import annotations

import json
import os
from typing import Any

from rec_core.errors import CheckpointError

SCRIPTED_MODEL = "scripted_model.pt"
SCRIPTED_SPARSE_MODEL = "scripted_sparse_model.pt"
AOTI_MODEL = os.path.join("aoti", "aoti_model.pt2")
TRT_DENSE_MODEL = "trt_dense_model.ts"
PIPELINE_CONFIG = "pipeline.config"
FG_JSON = "fg.json"
MODEL_ACC = "model_acc.json"
# model_acc.json key naming the `rec.exporters` plugin that wrote (and loads) the model
EXPORTER_KEY = "EXPORTER"


def read_model_acc(export_dir: str) -> dict[str, Any]:
    """The model_acc.json of a local export directory; a clear error when it is not an export."""
    for name in (PIPELINE_CONFIG, FG_JSON, MODEL_ACC):
        if not os.path.isfile(os.path.join(export_dir, name)):
            raise CheckpointError(f"{export_dir!r} is not an export directory: {name} is missing")
    with open(os.path.join(export_dir, MODEL_ACC)) as f:
        try:
            acc = json.load(f)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{export_dir}/{MODEL_ACC} is not valid JSON: {e}") from e
    if not isinstance(acc, dict) or not isinstance(acc.get(EXPORTER_KEY), str):
        raise CheckpointError(f"{export_dir}/{MODEL_ACC} does not name its exporter ({EXPORTER_KEY!r})")
    return acc

"""Reading an export directory: scripted model + fg.json + pipeline.config, scored on Arrow data.

Kept free of the training stack (no sharding, optimizers or TensorBoard) so serving code can use it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import torch

from rec_core.batch import Batch
from rec_core.config import load_pipeline_config
from rec_core.errors import CheckpointError
from rec_features.fg_json import load_fg_json
from rec_features.parser import FeatureParser

SCRIPTED_MODEL = "scripted_model.pt"
PIPELINE_CONFIG = "pipeline.config"
FG_JSON = "fg.json"


class ScriptedModel:
    """An exported model with the feature parser rebuilt from its fg.json."""

    def __init__(self, export_dir: str, reserved_columns: Sequence[str] = (), device: str = "cpu") -> None:
        for name in (SCRIPTED_MODEL, PIPELINE_CONFIG, FG_JSON):
            if not os.path.isfile(os.path.join(export_dir, name)):
                raise CheckpointError(f"{export_dir!r} is not an export directory: {name} is missing")
        self.export_dir = export_dir
        self.config = load_pipeline_config(os.path.join(export_dir, PIPELINE_CONFIG))
        data = self.config.data_config
        features = load_fg_json(os.path.join(export_dir, FG_JSON), data.fg_mode)
        self.parser = FeatureParser(features, reserved_columns=list(reserved_columns))
        self.device = torch.device(device)
        self.model = torch.jit.load(os.path.join(export_dir, SCRIPTED_MODEL), map_location=self.device)
        self.model.eval()

    def predict_batch(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Predictions for a parsed batch."""
        with torch.no_grad():
            return self.model(batch.to(self.device).to_dict())

    def predict_arrow(self, data: pa.RecordBatch | pa.Table) -> dict[str, torch.Tensor]:
        """Predictions for raw input rows (FG runs first)."""
        return self.predict_batch(self.parser(data))


def predictions_to_arrow(predictions: dict[str, Any], columns: Sequence[str] | None = None) -> dict[str, pa.Array]:
    """Output columns: 1-D tensors as scalars, wider ones as fixed-size lists; sorted by name."""
    names = list(columns) if columns else sorted(predictions)
    out = {}
    for name in names:
        value = predictions[name].detach().cpu().numpy()
        if value.ndim == 1:
            out[name] = pa.array(value)
        else:
            flat = pa.array(value.reshape(-1))
            out[name] = pa.FixedSizeListArray.from_arrays(flat, int(value.reshape(value.shape[0], -1).shape[1]))
    return out

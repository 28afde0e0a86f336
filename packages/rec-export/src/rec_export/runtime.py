"""An export directory loaded for inference, without the training stack (no TorchRec import).

`ExportedModel` reads pipeline.config, fg.json (assets resolved inside the export) and
model_acc.json, and asks the `rec.exporters` plugin named there to load the model itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

import torch

from rec_core.config import load_pipeline_config
from rec_core.errors import CheckpointError
from rec_core.fs import is_local, url_to_fs
from rec_core.registry import registry
from rec_features.dag import FeatureGraph
from rec_features.features.base import BaseFeature
from rec_features.fg_json import features_from_fg_json
from rec_export.assets import point_assets_at
from rec_export.layout import EXPORTER_KEY, FG_JSON, PIPELINE_CONFIG, read_model_acc

Runner = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]


def local_cache_dir() -> str:
    """LOCAL_CACHE_DIR: where remote exports are staged (default: the system temp dir)."""
    import tempfile

    return os.environ.get("LOCAL_CACHE_DIR") or tempfile.gettempdir()


def localize(export_dir: str) -> str:
    """`export_dir` itself when local, else a copy under LOCAL_CACHE_DIR (made once per URL)."""
    if is_local(export_dir):
        return url_to_fs(export_dir)[1]
    fs, path = url_to_fs(export_dir)
    local = os.path.join(local_cache_dir(), "rec_export_" + hashlib.sha1(export_dir.encode()).hexdigest()[:16])
    if not os.path.isdir(local):
        tmp = f"{local}.tmp-{os.getpid()}"
        fs.get(path.rstrip("/") + "/", tmp, recursive=True)
        os.replace(tmp, local)
    return local


def load_features(export_dir: str, config: Any) -> list[BaseFeature]:
    """The features of an export's fg.json, with their asset files found inside the export."""
    with open(os.path.join(export_dir, FG_JSON)) as f:
        doc = json.load(f)
    point_assets_at(doc, os.path.abspath(export_dir))
    data = config.data_config
    return features_from_fg_json(doc, data.fg_mode, data.fg_encoded_multival_sep)


class ExportedModel:
    """Config, FG features and the model of an export directory; call it with flat input tensors."""

    def __init__(self, export_dir: str, device: str | torch.device = "cpu") -> None:
        self.export_dir = export_dir
        local = localize(export_dir)
        self.acc = read_model_acc(local)
        self.config = load_pipeline_config(os.path.join(local, PIPELINE_CONFIG))
        self.features = load_features(local, self.config)
        self.graph = FeatureGraph(self.features)
        self.device = torch.device(device)
        if self.device.type == "cuda" and int(self.acc.get("QUANT_ROW_ALIGNMENT", 16)) < 16:
            raise CheckpointError(f"{export_dir}: its quantized tables are packed for CPU kernels; export it on a CUDA machine to serve on GPU")
        self.exporter = self.acc[EXPORTER_KEY]
        self.runner: Runner = registry("rec.exporters").get(self.exporter).load_runner(local, self.device, self.acc)

    @property
    def emitted(self) -> list[BaseFeature]:
        """The features the model reads (stub features only feed others)."""
        return self.graph.emitted

    def __call__(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Predictions for one batch of flat inputs (see `rec_export.packing`)."""
        with torch.inference_mode():
            return self.runner({k: v.to(self.device) for k, v in inputs.items()})

"""TorchScript export: scripted_model.pt + pipeline.config + fg.json, committed as one directory."""

from __future__ import annotations

import os
import shutil
import uuid

import torch
from torchrec.fx import symbolic_trace

from rec_core.config import save_message
from rec_core.errors import ConfigError
from rec_core.logging_utils import get_logger
from rec_dist import checkpoint as ckpt
from rec_dist.predict import load_checkpoint_model
from rec_dist.scripted import FG_JSON, PIPELINE_CONFIG, SCRIPTED_MODEL
from rec_dist.setup import prepare_config
from rec_features.fg_json import write_fg_json
from rec_models.wrappers import ScriptWrapper

logger = get_logger(__name__)


def script_model(model: torch.nn.Module) -> torch.jit.ScriptModule:
    """FX-trace the model behind its flat-tensor signature, then TorchScript it."""
    return torch.jit.script(symbolic_trace(ScriptWrapper(model)))


def export(
    pipeline_config_path: str,
    export_dir: str,
    checkpoint_path: str | None = None,
    asset_files: list[str] | None = None,
    edit_config_json: str | None = None,
) -> str:
    """Export the checkpoint (latest in model_dir by default) to `export_dir`, which must not exist."""
    if os.path.exists(export_dir):
        raise ConfigError("--export_dir", f"{export_dir!r} already exists; exports never overwrite")
    config = prepare_config(pipeline_config_path, edit_config_json)
    path = ckpt.resolve_checkpoint(checkpoint_path or config.model_dir)
    model = load_checkpoint_model(config, path)
    missing = [a for a in asset_files or [] if not os.path.isfile(a)]
    if missing:
        raise ConfigError("--asset_files", f"not found: {missing}")
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".{os.path.basename(export_dir)}.tmp-{uuid.uuid4().hex[:8]}")
    os.makedirs(staging)
    try:
        script_model(model).save(os.path.join(staging, SCRIPTED_MODEL))
        save_message(config, os.path.join(staging, PIPELINE_CONFIG))
        write_fg_json(model.features, os.path.join(staging, FG_JSON))
        for asset in asset_files or []:
            shutil.copy(asset, staging)
        os.rename(staging, export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("exported %s to %s", path, export_dir)
    return export_dir

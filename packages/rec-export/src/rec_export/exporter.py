"""`export()`: freeze a checkpoint into an export directory, built in staging and committed whole.

Steps: choose the exporter (env flags or `--exporter`) and let it check it can run; choose the
checkpoint; quantize embeddings (QUANT_EMB / QUANT_EC_EMB); wrap the model for flat tensor
inputs (tiled with INPUT_TILE); let the exporter write its files; add pipeline.config, fg.json,
model_acc.json and the assets; load the result back and compare it with the checkpoint on real
rows; then rename (local) or upload (remote, staged under LOCAL_CACHE_DIR) it into place.
A match model exports its two towers, each a complete export: `user/` and `item/`.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from typing import Any

import torch
from google.protobuf import json_format

from rec_core.config import save_message
from rec_core.errors import ConfigError, DataError, RecError
from rec_core.fs import exists, is_local, url_to_fs
from rec_core.logging_utils import get_logger
from rec_core.registry import registry
from rec_export.acc import AccConfig
from rec_export.assets import copy_assets, rewrite_asset_paths
from rec_export.checkpoints import choose_checkpoint
from rec_export.exporters.base import Exporter, ExportJob
from rec_export.exporters.split import sample_rows
from rec_export.layout import EXPORTER_KEY, FG_JSON, MODEL_ACC, PIPELINE_CONFIG
from rec_export.runtime import local_cache_dir

logger = get_logger(__name__)
# exported float32 models must reproduce the checkpoint this closely on the sample rows
FLOAT_TOLERANCE = 1e-5


def read_sample(config: Any, parser: Any, rows: int) -> dict[str, torch.Tensor]:
    """Flat inputs of the first `rows` rows of train_input_path (or eval_input_path)."""
    from rec_data.loader import create_dataloader

    data_config = copy.deepcopy(config.data_config)
    data_config.num_workers = 0
    errors = []
    for field in ("train_input_path", "eval_input_path"):
        path = getattr(config, field)
        if not path:
            continue
        try:
            loader = create_dataloader(data_config, path, parser, mode="predict", batch_size=rows)
            return next(iter(loader)).to_dict()
        except (RecError, OSError, StopIteration) as e:
            errors.append(f"{field} {path!r}: {type(e).__name__}: {e}")
    raise DataError("export reads a few rows to trace and check the model, and found none: " + "; ".join(errors or ["no input path is set"]))


def _parts(model: torch.nn.Module) -> list[tuple[str, Callable[[torch.nn.Module], torch.nn.Module]]]:
    """(subdirectory, flat-input wrapper) of each model an export holds: the model itself, or a
    match model's user and item towers (`user/`, `item/`), each ready to embed for an index."""
    from rec_models.match_model import MatchModel, MatchTowerWrapper
    from rec_models.wrappers import ScriptWrapper

    if isinstance(model, MatchModel):
        return [(tower, functools.partial(MatchTowerWrapper, tower=tower)) for tower in ("user", "item")]
    return [("", ScriptWrapper)]


def _wrapper(
    model: torch.nn.Module, make: Callable[[torch.nn.Module], torch.nn.Module], acc: AccConfig, features: list[Any]
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """`make(model)` with embeddings quantized and inputs tiled as asked, and what that adds to
    model_acc.json."""
    from rec_export.quant import embedding_bytes, quantize_embeddings, row_alignment_for
    from rec_export.tile import TileWrapper

    model = copy.deepcopy(model)
    info: dict[str, Any] = {}
    if acc.quant_emb or acc.quant_ec_emb:
        info["QUANT_ROW_ALIGNMENT"] = row_alignment_for(torch.cuda.is_available())
        n = quantize_embeddings(model, acc.quant_emb, acc.quant_ec_emb, info["QUANT_ROW_ALIGNMENT"])
        logger.info("quantized %d embedding collection(s): pooled %s, sequence %s", n, acc.quant_emb or "-", acc.quant_ec_emb or "-")
    info["EMBEDDING_BYTES"] = embedding_bytes(model)
    wrapper = make(model)
    return (TileWrapper(wrapper, features) if acc.input_tile else wrapper), info


def _write_configs(config: Any, features: list[Any], out_dir: str, asset_files: list[str]) -> None:
    """pipeline.config, fg.json and assets, every asset reference pointing into the export."""
    from rec_features.fg_json import create_fg_json

    mapping = copy_assets([a for f in features for a in f.assets()], out_dir)
    fg = create_fg_json(features)
    config = copy.deepcopy(config)
    if mapping:
        rewrite_asset_paths(fg, mapping)
        for i, fc in enumerate(config.feature_configs):
            tree = json_format.MessageToDict(fc, preserving_proto_field_name=True)
            if rewrite_asset_paths(tree, mapping):
                config.feature_configs[i].CopyFrom(json_format.ParseDict(tree, type(fc)()))
    save_message(config, os.path.join(out_dir, PIPELINE_CONFIG))
    with open(os.path.join(out_dir, FG_JSON), "w") as f:
        json.dump(fg, f, indent=2, ensure_ascii=False)
    for path in asset_files:
        target = os.path.join(out_dir, os.path.basename(path))
        if os.path.exists(target):
            raise ConfigError("--asset_files", f"{os.path.basename(path)!r} clashes with a file of the export")
        shutil.copyfile(path, target)


def _verify(exporter: type[Exporter], out_dir: str, reference: torch.nn.Module, sample: dict[str, torch.Tensor], exact: bool) -> float:
    """Max difference between the export's predictions and the float32 `reference`'s on the sample rows."""
    with torch.no_grad():
        expected = reference(sample)
    got = exporter.open(out_dir)(sample)
    if set(got) != set(expected):
        raise RecError(f"the export predicts {sorted(got)}, the checkpoint {sorted(expected)}")
    diff = max(float((got[k].float() - expected[k].float()).abs().max()) for k in expected) if expected else 0.0
    if exact and diff > FLOAT_TOLERANCE:
        raise RecError(f"the export's predictions differ from the checkpoint's by {diff:.3g} (> {FLOAT_TOLERANCE})")
    return diff


def _staging_dir(export_dir: str) -> str:
    parent = os.path.dirname(os.path.abspath(export_dir)) if is_local(export_dir) else local_cache_dir()
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(export_dir.rstrip('/'))}.tmp-", dir=parent)


def _commit(staging: str, export_dir: str) -> None:
    """Move the finished export into place; a remote one is uploaded under a temporary name first."""
    fs, path = url_to_fs(export_dir)
    if is_local(export_dir):
        os.rename(staging, path)
        return
    tmp = f"{path.rstrip('/')}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        fs.put(staging.rstrip("/") + "/", tmp, recursive=True)
        fs.mv(tmp, path, recursive=True)
    except BaseException:
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)


def export(
    pipeline_config_path: str,
    export_dir: str,
    checkpoint_path: str | None = None,
    asset_files: list[str] | None = None,
    edit_config_json: str | None = None,
    exporter: str | None = None,
    acc: AccConfig | None = None,
) -> str:
    """Export a checkpoint to `export_dir` (local path or fsspec URL), which must not exist."""
    from rec_dist.predict import load_checkpoint_model
    from rec_dist.setup import build_features, prepare_config

    acc = acc or AccConfig.from_env()
    name = exporter or acc.exporter
    exporter_cls = registry("rec.exporters").get(name)
    writer: Exporter = exporter_cls()
    writer.check(acc)
    if exists(export_dir):
        raise ConfigError("--export_dir", f"{export_dir!r} already exists; exports never overwrite")
    missing = [a for a in asset_files or [] if not os.path.isfile(a)]
    if missing:
        raise ConfigError("--asset_files", f"not found: {missing}")
    config = prepare_config(pipeline_config_path, edit_config_json)
    path = choose_checkpoint(config, checkpoint_path)
    model = load_checkpoint_model(config, path)
    _, parser = build_features(config, with_labels=False)
    sample = read_sample(config, parser, acc.max_export_batch_size)
    staging = _staging_dir(export_dir)
    try:
        for sub, make in _parts(model):
            out = os.path.join(staging, sub)
            os.makedirs(out, exist_ok=True)
            reference = make(model)
            keep = set(getattr(reference, "input_keys", None) or [f.name for f in model.features])
            features = [f for f in model.features if f.name in keep or f.stub_type]
            wrapper, info = _wrapper(model, make, acc, [f for f in features if not f.stub_type])
            extra = writer.export(ExportJob(wrapper, sample, acc, out))
            _write_configs(config, features, out, asset_files or [])
            with open(os.path.join(out, MODEL_ACC), "w") as f:
                json.dump({EXPORTER_KEY: name, **acc.to_json(), **info, **extra}, f, indent=1)
            diff = _verify(exporter_cls, out, reference, sample, exact=not (acc.quant_emb or acc.quant_ec_emb))
            logger.info("export %schecked on %d rows: max |export - checkpoint| = %.3g", f"{sub}/ " if sub else "", sample_rows(sample), diff)
        _commit(staging, export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("exported %s to %s (%s)", path, export_dir, name)
    return export_dir

"""Batch prediction from a checkpoint or an export; each rank writes its own output part."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import torch

from rec_core.batch import Batch
from rec_core.errors import ConfigError
from rec_core.logging_utils import get_logger
from rec_core.progress import Progress
from rec_core.registry import registry
from rec_data.loader import create_dataloader
from rec_data.writers import create_writer
from rec_dist import checkpoint as ckpt
from rec_dist.process_group import init_process_group
from rec_dist.scripted import ScriptedModel, predictions_to_arrow
from rec_dist.setup import build_features, build_model, prepare_config
from rec_features.parser import FeatureParser
from rec_models.wrappers import TrainWrapper

logger = get_logger(__name__)
MODEL_ACC = "model_acc.json"  # written by rec-export: names the exporter that loads the export


@dataclass
class PredictArgs:
    """Command-line options of `rec-predict` (TorchEasyRec's names)."""

    predict_input_path: str
    predict_output_path: str
    scripted_model_path: str | None = None
    pipeline_config_path: str | None = None
    checkpoint_path: str | None = None
    reserved_columns: str = ""
    output_columns: str = ""
    batch_size: int | None = None
    writer_type: str = "parquet"
    edit_config_json: str | None = None


def _split(s: str) -> list[str]:
    return [c.strip() for c in s.split(",") if c.strip()]


def load_checkpoint_model(config: object, checkpoint_path: str | None) -> torch.nn.Module:
    """The config's model on CPU with weights from a checkpoint (latest in model_dir by default)."""
    features, _ = build_features(config)
    model = build_model(config, features)
    wrapper = TrainWrapper(model)
    ckpt.load_checkpoint(ckpt.resolve_checkpoint(checkpoint_path or config.model_dir), wrapper)  # type: ignore[attr-defined]
    return model.eval()


def load_export(path: str, reserved: list[str]) -> tuple[Any, FeatureParser, Callable[[Batch], dict[str, torch.Tensor]]]:
    """Config, parser and scorer of an export directory.

    An export with model_acc.json is loaded by the `rec.exporters` plugin it names (TorchScript,
    AOTInductor, ...: rec-export registers them), so every variant scores here; older exports
    hold only scripted_model.pt.
    """
    acc_path = os.path.join(path, MODEL_ACC)
    if not os.path.isfile(acc_path):
        exported = ScriptedModel(path, reserved)
        return exported.config, exported.parser, exported.predict_batch
    with open(acc_path) as f:
        name = json.load(f).get("EXPORTER", "torchscript")
    model = registry("rec.exporters").get(name).open(path)
    parser = FeatureParser(model.features, reserved_columns=reserved)
    return model.config, parser, lambda batch: model(batch.to_dict())


def predict(args: PredictArgs) -> int:
    """Score every row of predict_input_path; returns the number of rows this rank wrote."""
    reserved = _split(args.reserved_columns)
    _, rank, world_size = init_process_group()
    score: Callable[[Batch], dict[str, torch.Tensor]]
    if args.scripted_model_path:
        config, parser, score = load_export(args.scripted_model_path, reserved)
    elif args.pipeline_config_path:
        config = prepare_config(args.pipeline_config_path, args.edit_config_json)
        _, parser = build_features(config, reserved, with_labels=False)
        model = load_checkpoint_model(config, args.checkpoint_path)

        def score(batch: Batch) -> dict[str, torch.Tensor]:
            with torch.no_grad():
                return model.predict(batch)
    else:
        raise ConfigError("--scripted_model_path", "give --scripted_model_path or --pipeline_config_path")
    columns = parser.feature_columns() + reserved
    loader = create_dataloader(
        config.data_config, args.predict_input_path, parser, mode="predict",
        columns=list(dict.fromkeys(columns)), rank=rank, world_size=world_size, batch_size=args.batch_size,
    )
    output_columns = _split(args.output_columns) or None
    progress = Progress(None, "predict", 50, enabled=rank == 0)
    with create_writer(args.predict_output_path, rank, kind=args.writer_type) as writer:
        for batch in loader:
            out = predictions_to_arrow(score(batch), output_columns)
            if batch.reserves is not None:
                out = {**{n: batch.reserves.column(n) for n in batch.reserves.schema.names}, **out}
            writer.write(pa.table(out))
            progress.update(batch.batch_size)
        rows = writer.rows_written
    progress.close()
    logger.info("rank %d wrote %d rows to %s", rank, rows, writer.path)
    return rows

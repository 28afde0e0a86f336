"""Standalone evaluation of a checkpoint (`rec-eval`)."""

from __future__ import annotations

import os

import torch

from rec_core.errors import ConfigError
from rec_data.loader import create_dataloader
from rec_dist import checkpoint as ckpt
from rec_dist.evaluate import append_result, evaluate
from rec_dist.process_group import init_process_group
from rec_dist.setup import build_features, build_model, prepare_config
from rec_dist.sharding import shard_model
from rec_models.optim import sparse_optimizer_spec
from rec_models.wrappers import TrainWrapper


def evaluate_checkpoint(
    pipeline_config_path: str,
    checkpoint_path: str | None = None,
    eval_input_path: str | None = None,
    eval_result_filename: str = "eval_result.txt",
    edit_config_json: str | None = None,
) -> dict[str, float]:
    """Metrics of a checkpoint over the eval set; rank 0 appends them to model_dir/<eval_result_filename>."""
    config = prepare_config(pipeline_config_path, edit_config_json, eval_input_path=eval_input_path)
    if not config.eval_input_path:
        raise ConfigError("eval_input_path", "no eval data: set eval_input_path or pass --eval_input_path")
    path = ckpt.resolve_checkpoint(checkpoint_path or config.model_dir)
    device, rank, world_size = init_process_group()
    features, parser = build_features(config)
    loader = create_dataloader(
        config.data_config, config.eval_input_path, parser, mode="eval",
        columns=parser.input_columns(), rank=rank, world_size=world_size,
    )
    model = build_model(config, features, device=torch.device("meta"))
    wrapped = shard_model(TrainWrapper(model), device, config.data_config.batch_size, sparse_optimizer_spec(config.train_config.sparse_optimizer))
    meta = ckpt.load_checkpoint(path, wrapped)
    metrics = evaluate(wrapped, loader, device, config.eval_config.num_steps)
    if rank == 0:
        append_result(os.path.join(config.model_dir, eval_result_filename), meta["global_step"], metrics)
    return metrics

"""Evaluation loop: metrics over a whole eval set, synchronised across ranks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import nn

from rec_core.batch import Batch
from rec_core.logging_utils import get_logger
from rec_core.progress import Progress
from rec_dist.process_group import all_have_data
from rec_models.model import BaseModel

logger = get_logger(__name__)


def unwrap_model(module: nn.Module) -> BaseModel:
    """The BaseModel inside DMP / DDP / TrainWrapper layers."""
    while not isinstance(module, BaseModel):
        module = getattr(module, "module", None) or getattr(module, "model")
    return module


def evaluate(
    wrapped: nn.Module, loader: Iterable[Batch], device: torch.device, num_steps: int = 0, log_every: int = 10
) -> dict[str, float]:
    """Run `wrapped` (a TrainWrapper, possibly sharded) over `loader`; metric name -> value."""
    model = unwrap_model(wrapped)
    wrapped.eval()
    is_chief = not dist.is_initialized() or dist.get_rank() == 0
    progress = Progress(num_steps or None, "eval", log_every, enabled=is_chief)
    it = iter(loader)
    with torch.no_grad():
        while not num_steps or progress.step < num_steps:
            batch = next(it, None)
            if not all_have_data(batch is not None, device):
                break
            batch = batch.to(device)
            _, (losses, predictions) = wrapped(batch)
            model.update_metric(predictions, batch, losses)
            progress.update(batch.batch_size)
    progress.close()
    wrapped.train()
    return model.compute_metric()


def append_result(path: str, step: int, metrics: dict[str, float]) -> None:
    """Append `{"global_step": step, <metric>: value, ...}` as one JSON line."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps({"global_step": step, **dict(sorted(metrics.items()))}) + "\n")

"""One training step: loss scaling, gradient accumulation, clipping, and TorchRec's pipeline.

TorchRec's TrainPipelineSparseDist overlaps the input all-to-all of batch i+1 with the
compute of batch i; `RecTrainPipeline` keeps that and routes backward and the optimizer
step through `StepOptimizer`, which owns mixed-precision scaling and accumulation.
Embedding tables are updated by their fused optimizer inside backward on every micro-step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import torch
from torch import nn
from torchrec.distributed.train_pipeline import TrainPipelineSparseDist
from torchrec.optim.optimizers import in_backward_optimizer_filter

from rec_core.errors import ConfigError
from rec_dist.process_group import all_have_data

T = TypeVar("T")


class StepOptimizer:
    """Wraps the combined optimizer: steps every `accumulation_steps` calls, clips, scales."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        model: nn.Module,
        accumulation_steps: int = 1,
        scaler: torch.amp.GradScaler | None = None,
        clipping: Any = None,
    ) -> None:
        self.optimizer = optimizer
        self.accumulation_steps = max(1, accumulation_steps)
        self.scaler = scaler
        self.micro_step = 0
        self._dense = [p for _, p in in_backward_optimizer_filter(model.named_parameters()) if p.requires_grad]
        self._clip_type = clipping.clipping_type if clipping is not None else "none"
        if self._clip_type not in ("none", "norm", "value"):
            raise ConfigError("train_config.grad_clipping.clipping_type", f"expected none, norm or value, got {self._clip_type!r}")
        self._clip = clipping
        self.grad_norm: float | None = None

    # the parts of the torch.optim.Optimizer API that checkpoints use, forwarded
    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the wrapped optimizer's state."""
        self.optimizer.load_state_dict(state_dict)

    def init_state(self) -> None:
        """Materialise lazy optimizer state so a checkpoint can be loaded into it."""
        self.optimizer.init_state()  # type: ignore[attr-defined]

    @property
    def at_boundary(self) -> bool:
        """True when the next `step` applies the accumulated gradients."""
        return (self.micro_step + 1) % self.accumulation_steps == 0

    def backward(self, loss: torch.Tensor) -> None:
        """Backward of one micro-batch's loss (scaled for accumulation and mixed precision)."""
        loss = loss / self.accumulation_steps
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear gradients at the start of each accumulation window."""
        if self.micro_step % self.accumulation_steps == 0:
            self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Any = None) -> None:
        """Count a micro-step; at a window's end unscale, clip and apply the dense update."""
        boundary = self.at_boundary
        self.micro_step += 1
        if not boundary:
            return
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        grads = [p for p in self._dense if p.grad is not None]
        if self._clip_type == "norm":
            self.grad_norm = float(torch.nn.utils.clip_grad_norm_(grads, self._clip.max_gradient, self._clip.norm_type))
        elif self._clip_type == "value":
            torch.nn.utils.clip_grad_value_(grads, self._clip.max_gradient)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()


class RecTrainPipeline(TrainPipelineSparseDist):
    """TrainPipelineSparseDist whose backward goes through a StepOptimizer."""

    def __init__(
        self, model: nn.Module, optimizer: StepOptimizer, device: torch.device, model_fwd: Any = None
    ) -> None:
        super().__init__(model, optimizer, device, execute_all_batches=True, custom_model_fwd=model_fwd)  # type: ignore[arg-type]
        self.step_optimizer = optimizer

    def _backward(self, losses: torch.Tensor) -> None:
        self.step_optimizer.backward(torch.sum(losses, dim=0))


def until_any_rank_runs_out(batches: Iterator[T], device: torch.device) -> Iterator[T]:
    """Yield batches while every rank still has one, so uneven data never hangs a collective."""
    while True:
        batch = next(batches, None)
        if not all_have_data(batch is not None, device):
            return
        yield batch  # type: ignore[misc]


def create_grad_scaler(train_config: Any, device: torch.device) -> torch.amp.GradScaler | None:
    """A GradScaler when train_config.grad_scaler is set (meant for FP16 mixed precision)."""
    if not train_config.HasField("grad_scaler"):
        return None
    c = train_config.grad_scaler
    return torch.amp.GradScaler(
        device.type,
        init_scale=c.init_scale,
        growth_factor=c.growth_factor,
        backoff_factor=c.backoff_factor,
        growth_interval=c.growth_interval,
    )


def autocast_dtype(mixed_precision: str, where: str) -> torch.dtype | None:
    """torch dtype for a BF16/FP16 mixed_precision setting (None when empty)."""
    if not mixed_precision:
        return None
    dtypes = {"BF16": torch.bfloat16, "FP16": torch.float16}
    if mixed_precision.upper() not in dtypes:
        raise ConfigError(where, f"expected BF16 or FP16, got {mixed_precision!r}")
    return dtypes[mixed_precision.upper()]

"""TensorBoard scalars (rank 0 only)."""

from __future__ import annotations

import os
from typing import Any


class Summary:
    """Writes scalars under `log_dir` when enabled; a no-op otherwise."""

    def __init__(self, log_dir: str, enabled: bool) -> None:
        self._writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            os.makedirs(log_dir, exist_ok=True)
            self._writer = SummaryWriter(log_dir)

    def scalars(self, values: dict[str, float], step: int, prefix: str = "") -> None:
        """Record each value as `<prefix><name>` at `step`."""
        if self._writer is not None:
            for k, v in values.items():
                self._writer.add_scalar(f"{prefix}{k}", v, step)

    def histograms(self, tensors: dict[str, Any], step: int) -> None:
        """Record a histogram of each (local) tensor, e.g. parameters."""
        if self._writer is not None:
            for k, v in tensors.items():
                local = v.local_shards()[0].tensor if hasattr(v, "local_shards") else v
                if local.numel():
                    self._writer.add_histogram(k, local.detach().float().cpu(), step)

    def close(self) -> None:
        """Flush and close."""
        if self._writer is not None:
            self._writer.close()

"""Progress reporting for long work: a tqdm bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from rec_core.logging_utils import get_logger

logger = get_logger(__name__)


class Progress:
    """Counts steps and samples; shows rate and ETA, and logs every `log_every` steps."""

    def __init__(self, total: int | None, desc: str, log_every: int = 100, enabled: bool = True) -> None:
        self.total = total
        self.desc = desc
        self.log_every = max(1, log_every)
        self.step = 0
        self.samples = 0
        self._t0 = time.perf_counter()
        self._window = (self._t0, 0)
        self._bar = (
            tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, file=sys.stderr)
            if enabled and sys.stderr.isatty()
            else None
        )
        self.enabled = enabled

    def update(self, samples: int, **scalars: float) -> None:
        """Record one finished step of `samples` rows; `scalars` (e.g. loss) are shown and logged."""
        self.step += 1
        self.samples += samples
        if self._bar is not None:
            self._bar.update(1)
            if scalars:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in scalars.items()}, refresh=False)
        if self.enabled and self.step % self.log_every == 0:
            now = time.perf_counter()
            t_prev, s_prev = self._window
            rate = (self.samples - s_prev) / max(now - t_prev, 1e-9)
            self._window = (now, self.samples)
            eta = ""
            if self.total:
                per_step = (now - self._t0) / self.step
                eta = f" eta={per_step * (self.total - self.step):.0f}s"
            extra = " ".join(f"{k}={v:.5g}" for k, v in scalars.items())
            total = f"/{self.total}" if self.total else ""
            logger.info("%s step=%d%s %s samples/s=%.0f%s", self.desc, self.step, total, extra, rate, eta)

    @property
    def samples_per_second(self) -> float:
        """Mean throughput since the start."""
        return self.samples / max(time.perf_counter() - self._t0, 1e-9)

    def close(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()

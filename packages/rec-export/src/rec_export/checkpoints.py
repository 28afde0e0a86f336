"""Which checkpoint an export freezes: the one given, or export_config's latest or best."""

from __future__ import annotations

import os
from typing import Any

from rec_core.errors import ConfigError
from rec_core.logging_utils import get_logger
from rec_dist import checkpoint as ckpt
from rec_dist.train_eval import EVAL_RESULT_FILE

logger = get_logger(__name__)


def choose_checkpoint(config: Any, checkpoint_path: str | None = None) -> str:
    """`checkpoint_path` (a checkpoint or a model_dir), else per export_config.exporter_type.

    `best` takes the checkpoint with the best `best_exporter_metric` in the model_dir's eval
    results (`metric_larger_is_better` gives the direction) and falls back to the latest, with a
    warning, when no result names an existing checkpoint.
    """
    if checkpoint_path:
        return ckpt.resolve_checkpoint(checkpoint_path)
    export_config = config.export_config
    kind = export_config.exporter_type
    if kind not in ("latest", "best"):
        raise ConfigError("export_config.exporter_type", f"expected 'latest' or 'best', got {kind!r}")
    if kind == "best":
        results = os.path.join(config.model_dir, EVAL_RESULT_FILE)
        best = ckpt.best_checkpoint(config.model_dir, results, export_config)
        if best is not None:
            logger.info("best checkpoint by %s: %s", export_config.best_exporter_metric, best)
            return best
        logger.warning(
            "export_config.exporter_type is 'best' but %s has no %r result for an existing checkpoint; "
            "exporting the latest checkpoint",
            results,
            export_config.best_exporter_metric,
        )
    return ckpt.resolve_checkpoint(config.model_dir)

"""TrainConfig options through rec-train: mixed precision, accumulation, clipping, pruning, profiling."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import rec, write_config

pytestmark = pytest.mark.slow


def test_training_options_work_together(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    model_dir = tmp_path / "model"
    config = write_config(
        tmp_path / "pipeline.config",
        {
            "train_input_path": str(synth_data["train"]),
            "eval_input_path": str(synth_data["eval"]),
            "model_dir": str(model_dir),
            "data_config.batch_size": 256,
            "train_config.mixed_precision": "BF16",
            "train_config.gradient_accumulation_steps": 2,
            "train_config.grad_clipping": {"clipping_type": "norm", "max_gradient": 5.0},
            "train_config.save_checkpoints_steps": 8,
            "train_config.keep_checkpoint_max": 1,
            "train_config.is_profiling": True,
            "train_config.tensorboard_summaries": ["loss", "learning_rate", "parameter", "global_gradient_norm"],
            "train_config.log_step_count_steps": 4,
            "model_config.train_metrics": [{"auc": {}, "decay_step": 4}],
        },
    )
    result = rec("rec_dist.cli.train", "--pipeline_config_path", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    results = [json.loads(line) for line in (model_dir / "train_eval_result_v2.txt").read_text().splitlines()]
    assert results[-1]["auc"] > 0.7
    best = max(results, key=lambda r: r["auc"])["global_step"]
    kept = sorted(int(p.name.split("-")[1]) for p in model_dir.glob("model.ckpt-*"))
    # the newest checkpoint plus the best one (protected from keep_checkpoint_max pruning)
    assert kept == sorted({best, results[-1]["global_step"]})
    assert list((model_dir / "train_eval_trace").iterdir()), "the profiler wrote a trace"
    # the decayed train AUC is logged with the loss at every log step
    train_aucs = [float(a) for a in re.findall(r"train step=\d+\S* loss=\S+ auc=([0-9.]+)", result.stderr)]
    assert train_aucs and all(0.0 <= a <= 1.0 for a in train_aucs)

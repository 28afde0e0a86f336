"""Training with periodic checkpoints and evaluation; the engine behind `rec-train`."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rec_core.config import save_message
from rec_core.errors import ConfigError
from rec_core.logging_utils import get_logger
from rec_core.progress import Progress
from rec_data.loader import create_dataloader
from rec_dist import checkpoint as ckpt
from rec_dist.evaluate import append_result, evaluate
from rec_dist.optimizers import build_optimizer
from rec_dist.process_group import barrier, init_process_group
from rec_dist.setup import build_features, build_model, prepare_config
from rec_dist.sharding import shard_model
from rec_dist.step import RecTrainPipeline, StepOptimizer, autocast_dtype, create_grad_scaler, until_any_rank_runs_out
from rec_dist.summary import Summary
from rec_models.optim import sparse_optimizer_spec
from rec_models.wrappers import TrainWrapper

logger = get_logger(__name__)

EVAL_RESULT_FILE = "train_eval_result_v2.txt"


@dataclass
class TrainArgs:
    """Command-line options of `rec-train` (TorchEasyRec's names)."""

    pipeline_config_path: str
    model_dir: str | None = None
    train_input_path: str | None = None
    eval_input_path: str | None = None
    continue_train: bool = False
    fine_tune_checkpoint: str | None = None
    edit_config_json: str | None = None
    ignore_restore_optimizer: bool = False
    # beyond TorchEasyRec: seeds model initialisation, dropout and the train shuffle
    seed: int | None = None


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (the same seed on every rank)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _set_tf32(train_config: Any) -> None:
    torch.backends.cuda.matmul.allow_tf32 = bool(train_config.cuda_matmul_allow_tf32)
    torch.backends.cudnn.allow_tf32 = bool(train_config.cudnn_allow_tf32)


class Trainer:
    """Owns one training run: model, optimizer, data, checkpoints, evaluation and summaries."""

    def __init__(self, args: TrainArgs) -> None:
        self.args = args
        self.config = prepare_config(
            args.pipeline_config_path,
            args.edit_config_json,
            for_training=True,
            model_dir=args.model_dir,
            train_input_path=args.train_input_path,
            eval_input_path=args.eval_input_path,
        )
        config, tc, data = self.config, self.config.train_config, self.config.data_config
        self.model_dir = config.model_dir
        if ckpt.latest_checkpoint(self.model_dir) and not args.continue_train:
            raise ConfigError(
                "model_dir",
                f"{self.model_dir!r} already holds checkpoints; pass --continue_train to resume or choose a new model_dir",
            )
        self.device, self.rank, self.world_size = init_process_group()
        _set_tf32(tc)
        if args.seed is not None:
            seed_everything(args.seed)
        features, parser = build_features(config)
        cols = parser.input_columns()
        loader = dict(columns=cols, rank=self.rank, world_size=self.world_size)
        self.train_loader = create_dataloader(
            data,
            config.train_input_path,
            parser,
            mode="train",
            feature_configs=list(config.feature_configs),
            seed=args.seed or 0,
            **loader,
        )
        self.eval_loader = (
            create_dataloader(data, config.eval_input_path, parser, mode="eval", **loader) if config.eval_input_path else None
        )
        # everything checked: from here on the run may write to model_dir
        if self.rank == 0:
            os.makedirs(self.model_dir, exist_ok=True)
            ckpt.remove_incomplete(self.model_dir)
            save_message(config, os.path.join(self.model_dir, "pipeline.config"))
        barrier()
        self.latest = ckpt.agreed_latest(self.model_dir, self.rank) if args.continue_train else None
        model = build_model(config, features, device=torch.device("meta"))
        # decayed train metrics (model_config.train_metrics) fed from each step's predictions
        self.train_metric_model = model if len(getattr(model, "train_metrics", ())) else None
        self.wrapped = shard_model(
            TrainWrapper(model),
            self.device,
            data.batch_size,
            sparse_optimizer_spec(tc.sparse_optimizer),
            tc.global_embedding_constraints if tc.HasField("global_embedding_constraints") else None,
            ckpt.saved_plan(self.latest, self.world_size),
        )
        optimizer, self.schedulers = build_optimizer(self.wrapped, tc)
        self.optimizer = StepOptimizer(
            optimizer,
            self.wrapped,
            tc.gradient_accumulation_steps,
            create_grad_scaler(tc, self.device),
            tc.grad_clipping if tc.HasField("grad_clipping") else None,
        )
        self.dtype = autocast_dtype(tc.mixed_precision, "train_config.mixed_precision")
        self.pipeline = RecTrainPipeline(self.wrapped, self.optimizer, self.device, self._forward)
        self.step = self.epoch = self.epoch_step = 0
        chief = self.rank == 0
        self.summary = Summary(self.model_dir, chief and tc.use_tensorboard)
        self.eval_summary = Summary(os.path.join(self.model_dir, "eval_val"), chief and tc.use_tensorboard)
        self.summaries = set(tc.tensorboard_summaries) or {"loss", "learning_rate"}
        self.metrics: dict[str, float] = {}
        self.last_saved = -1

    def _forward(self, batch: Any) -> Any:
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            out = self.wrapped(batch)
        if self.train_metric_model is not None and self.wrapped.training:
            # here rather than inside the model: TorchRec's pipeline traces the model, and the
            # metric updates are data-dependent Python
            with torch.no_grad():
                self.train_metric_model.update_train_metric(out[1][1], batch)
        return out

    def restore(self) -> None:
        """Resume from the latest checkpoint (--continue_train) or warm-start (fine_tune_checkpoint)."""
        args, tc = self.args, self.config.train_config
        latest = self.latest
        if latest:
            with_optimizer = not args.ignore_restore_optimizer
            if with_optimizer:
                self.optimizer.init_state()
            meta = ckpt.load_checkpoint(latest, self.wrapped, self.optimizer if with_optimizer else None)
            self.step, self.epoch, self.epoch_step = meta["global_step"], meta.get("epoch", 0), meta.get("epoch_step", 0)
            self.optimizer.micro_step = self.step
            for s in self.schedulers:
                s.last_epoch = self.epoch if s.by_epoch else self.step
                s.step()
            self.last_saved = self.step
        elif args.fine_tune_checkpoint or tc.fine_tune_checkpoint:
            source = ckpt.resolve_checkpoint(args.fine_tune_checkpoint or tc.fine_tune_checkpoint)
            ckpt.load_checkpoint(source, self.wrapped, partial=True, param_map=ckpt.read_param_map(tc.fine_tune_ckpt_param_map))

    def save_and_evaluate(self) -> None:
        """Checkpoint now, then evaluate it and record the metrics."""
        tc = self.config.train_config
        meta = {"epoch": self.epoch, "epoch_step": self.epoch_step, "world_size": self.world_size}
        results = os.path.join(self.model_dir, EVAL_RESULT_FILE)
        ckpt.save_checkpoint(self.model_dir, self.step, self.wrapped, self.optimizer, meta, self.rank)
        self.last_saved = self.step
        if self.eval_loader is not None:
            self.pipeline.detach()
            self.metrics = evaluate(self.wrapped, self.eval_loader, self.device, self.config.eval_config.num_steps)
            self.pipeline.attach(self.wrapped)
            if self.rank == 0:
                append_result(results, self.step, self.metrics)
                self.eval_summary.scalars(self.metrics, self.step)
                logger.info("eval global_step=%d %s", self.step, _fmt(self.metrics))
        if self.rank == 0:
            best = ckpt.best_checkpoint(self.model_dir, results, self.config.export_config)
            ckpt.prune_checkpoints(self.model_dir, tc.keep_checkpoint_max, best)

    def _log(self, progress: Progress, losses: dict[str, torch.Tensor], rows: int) -> None:
        tc = self.config.train_config
        if self.step % (tc.log_step_count_steps or 100):
            progress.update(rows)
            return
        scalars = {k: float(v) for k, v in losses.items()}
        total = sum(scalars.values())
        if "loss" in self.summaries:
            self.summary.scalars({"loss/total": total, **{f"loss/{k}": v for k, v in scalars.items()}}, self.step)
        if "learning_rate" in self.summaries:
            self.summary.scalars({f"lr/g{i}": s.get_last_lr()[0] for i, s in enumerate(self.schedulers)}, self.step)
        if "global_gradient_norm" in self.summaries and self.optimizer.grad_norm is not None:
            self.summary.scalars({"global_gradient_norm": self.optimizer.grad_norm}, self.step)
        if "parameter" in self.summaries:
            self.summary.histograms(dict(self.wrapped.named_parameters()), self.step)
        train_metrics = self.train_metric_model.compute_train_metric() if self.train_metric_model is not None else {}
        if train_metrics:
            self.summary.scalars({f"train/{k}": v for k, v in train_metrics.items()}, self.step)
        progress.update(rows, loss=total, **train_metrics)

    def train(self) -> dict[str, float]:
        """Run every epoch/step of training; returns the last eval metrics."""
        tc = self.config.train_config
        self.restore()
        progress = Progress(tc.num_steps or None, "train", tc.log_step_count_steps or 100, enabled=self.rank == 0)
        progress.step = self.step
        save_every, save_epochs = tc.save_checkpoints_steps or 1000, tc.save_checkpoints_epochs
        self.wrapped.train()
        with _profiler(tc.is_profiling, os.path.join(self.model_dir, "train_eval_trace")) as prof:
            while not (tc.num_epochs and self.epoch >= tc.num_epochs) and not (tc.num_steps and self.step >= tc.num_steps):
                self.train_loader.dataset.set_epoch(self.epoch)
                batches = itertools.islice(iter(self.train_loader), self.epoch_step, None)
                batches = until_any_rank_runs_out(batches, self.device)
                if tc.num_steps:
                    batches = itertools.islice(batches, tc.num_steps - self.step)
                trained_any = False
                while True:
                    try:
                        losses, predictions = self.pipeline.progress(batches)
                    except StopIteration:
                        break
                    trained_any = True
                    self.step += 1
                    self.epoch_step += 1
                    for s in self.schedulers:
                        if not s.by_epoch:
                            s.step()
                    rows = len(next(iter(predictions.values()))) * self.world_size
                    self._log(progress, losses, rows)
                    if prof is not None:
                        prof.step()
                    if not save_epochs and self.step % save_every == 0:
                        self.save_and_evaluate()
                if tc.num_steps and self.step >= tc.num_steps:
                    break
                if not trained_any and self.epoch_step == 0:
                    raise ConfigError("train_input_path", f"{self.config.train_input_path!r} yielded no batches")
                self.epoch += 1
                self.epoch_step = 0
                for s in self.schedulers:
                    if s.by_epoch:
                        s.step()
                if save_epochs and self.epoch % save_epochs == 0:
                    self.save_and_evaluate()
        progress.close()
        if self.last_saved != self.step:
            self.save_and_evaluate()
        if self.rank == 0:
            logger.info("training done: global_step=%d samples/s=%.0f %s", self.step, progress.samples_per_second, _fmt(self.metrics))
        self.summary.close()
        self.eval_summary.close()
        return self.metrics


@contextlib.contextmanager
def _profiler(enabled: bool, trace_dir: str) -> Any:
    if not enabled:
        yield None
        return
    schedule = torch.profiler.schedule(wait=1, warmup=1, active=10, repeat=1)
    with torch.profiler.profile(schedule=schedule, on_trace_ready=torch.profiler.tensorboard_trace_handler(trace_dir)) as prof:
        yield prof


def _fmt(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.6g}" for k, v in sorted(metrics.items()))


def train_and_evaluate(args: TrainArgs) -> dict[str, float]:
    """Train the pipeline's model, evaluate at each checkpoint and at the end; final metrics."""
    return Trainer(args).train()

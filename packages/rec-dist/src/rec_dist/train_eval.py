"""Training with periodic checkpoints and evaluation; the engine behind `rec-train`."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import torch

from rec_core.config import save_message
from rec_core.errors import ConfigError
from rec_core.logging_utils import get_logger
from rec_core.progress import Progress
from rec_data.loader import create_dataloader
from rec_dist import checkpoint as ckpt
from rec_dist.evaluate import append_result, evaluate
from rec_dist.optimizers import build_optimizer
from rec_dist.process_group import all_have_data, barrier, init_process_group
from rec_dist.setup import build_features, build_model, prepare_config
from rec_dist.sharding import shard_model
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


def _check_model_dir(model_dir: str, args: TrainArgs) -> None:
    if ckpt.latest_checkpoint(model_dir) and not args.continue_train:
        raise ConfigError(
            "model_dir",
            f"{model_dir!r} already holds checkpoints; pass --continue_train to resume or choose a new model_dir",
        )


def train_and_evaluate(args: TrainArgs) -> dict[str, float]:
    """Train the pipeline's model, evaluate at each checkpoint and at the end; final metrics."""
    config = prepare_config(
        args.pipeline_config_path,
        args.edit_config_json,
        for_training=True,
        model_dir=args.model_dir,
        train_input_path=args.train_input_path,
        eval_input_path=args.eval_input_path,
    )
    model_dir = config.model_dir
    _check_model_dir(model_dir, args)
    tc, data = config.train_config, config.data_config
    device, rank, world_size = init_process_group()
    features, parser = build_features(config)
    columns = parser.input_columns()
    train_loader = create_dataloader(data, config.train_input_path, parser, mode="train", columns=columns, rank=rank, world_size=world_size)
    eval_loader = (
        create_dataloader(data, config.eval_input_path, parser, mode="eval", columns=columns, rank=rank, world_size=world_size)
        if config.eval_input_path
        else None
    )
    # everything checked: from here on the run may write to model_dir
    if rank == 0:
        os.makedirs(model_dir, exist_ok=True)
        ckpt.remove_incomplete(model_dir)
        save_message(config, os.path.join(model_dir, "pipeline.config"))
    barrier()

    model = build_model(config, features, device=torch.device("meta"))
    wrapped = shard_model(TrainWrapper(model), device, data.batch_size, sparse_optimizer_spec(tc.sparse_optimizer))
    optimizer, schedulers = build_optimizer(wrapped, tc)

    step, epoch, skip = 0, 0, 0
    latest = ckpt.agreed_latest(model_dir, rank) if args.continue_train else None
    if latest:
        if not args.ignore_restore_optimizer:
            optimizer.init_state()
        meta = ckpt.load_checkpoint(latest, wrapped, None if args.ignore_restore_optimizer else optimizer)
        step, epoch, skip = meta["global_step"], meta.get("epoch", 0), meta.get("epoch_step", 0)
        for s in schedulers:
            s.last_epoch = epoch if s.by_epoch else step
            s.step()
    elif args.fine_tune_checkpoint or tc.fine_tune_checkpoint:
        ckpt.load_checkpoint(ckpt.resolve_checkpoint(args.fine_tune_checkpoint or tc.fine_tune_checkpoint), wrapped, partial=True)

    summary = Summary(model_dir, rank == 0 and tc.use_tensorboard)
    eval_summary = Summary(os.path.join(model_dir, "eval_val"), rank == 0 and tc.use_tensorboard)
    log_every = tc.log_step_count_steps or 100
    progress = Progress(tc.num_steps or None, "train", log_every, enabled=rank == 0)
    progress.step = step
    save_every = tc.save_checkpoints_steps or 1000
    metrics: dict[str, float] = {}
    last_saved = step if latest else -1

    def save_and_eval(epoch_step: int) -> None:
        nonlocal metrics, last_saved
        meta = {"epoch": epoch, "epoch_step": epoch_step, "world_size": world_size}
        ckpt.save_checkpoint(model_dir, step, wrapped, optimizer, meta, rank, tc.keep_checkpoint_max)
        last_saved = step
        if eval_loader is not None:
            metrics = evaluate(wrapped, eval_loader, device, config.eval_config.num_steps)
            if rank == 0:
                append_result(os.path.join(model_dir, EVAL_RESULT_FILE), step, metrics)
                eval_summary.scalars(metrics, step)
                logger.info("eval global_step=%d %s", step, " ".join(f"{k}={v:.6g}" for k, v in sorted(metrics.items())))

    wrapped.train()
    done = False
    while not done and not (tc.num_epochs and epoch >= tc.num_epochs):
        train_loader.dataset.set_epoch(epoch)
        it = iter(train_loader)
        if skip:
            # resume mid-epoch: the data order is a function of (seed, epoch), so skip what was trained
            it = itertools.islice(it, skip, None)
        epoch_step = skip
        skip = 0
        while True:
            if tc.num_steps and step >= tc.num_steps:
                done = True
                break
            batch = next(it, None)
            if not all_have_data(batch is not None, device):
                break
            batch = batch.to(device)
            loss, (losses, _) = wrapped(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            epoch_step += 1
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
            if step % log_every == 0:
                scalars = {"loss": float(loss.detach()), **{k: float(v) for k, v in losses.items()}}
                summary.scalars({f"loss/{k}": v for k, v in scalars.items()}, step)
                summary.scalars({f"lr/{i}": s.get_last_lr()[0] for i, s in enumerate(schedulers)}, step)
                progress.update(batch.batch_size * world_size, **{"loss": scalars["loss"]})
            else:
                progress.update(batch.batch_size * world_size)
            if step % save_every == 0:
                save_and_eval(epoch_step)
        if done:
            break
        epoch += 1
        for s in schedulers:
            if s.by_epoch:
                s.step()
        if epoch_step == 0:
            raise ConfigError("train_input_path", f"{config.train_input_path!r} yielded no batches")
    progress.close()
    if last_saved != step:
        save_and_eval(0)
    if rank == 0:
        logger.info(
            "training done: global_step=%d samples/s=%.0f %s",
            step,
            progress.samples_per_second,
            " ".join(f"{k}={v:.6g}" for k, v in sorted(metrics.items())),
        )
    summary.close()
    eval_summary.close()
    return metrics

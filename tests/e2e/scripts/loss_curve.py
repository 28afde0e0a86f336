"""Train a few steps on fixed global batches and write the loss curve (used by test_dist_training).

Every rank takes its slice of each global batch, so one process and N processes see the same
data per step. The initial weights come from a checkpoint so both start identical.
"""

from __future__ import annotations

import argparse
import json

import pyarrow.parquet as pq
import torch
import torch.distributed as dist

from rec_core.config import load_pipeline_config
from rec_dist import checkpoint as ckpt
from rec_dist.optimizers import build_optimizer
from rec_dist.process_group import destroy_process_group, init_process_group
from rec_dist.setup import build_features, build_model
from rec_dist.sharding import shard_model
from rec_dist.step import RecTrainPipeline, StepOptimizer
from rec_models.optim import sparse_optimizer_spec
from rec_models.wrappers import TrainWrapper


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--init", required=True, help="model_dir holding (or receiving) the initial checkpoint")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--global_batch", type=int, default=512)
    args = p.parse_args()

    device, rank, world = init_process_group()
    config = load_pipeline_config(args.config)
    features, parser = build_features(config)
    model = build_model(config, features, device=torch.device("meta"))
    tc = config.train_config
    wrapped = shard_model(TrainWrapper(model), device, args.global_batch // world, sparse_optimizer_spec(tc.sparse_optimizer), tc.global_embedding_constraints if tc.HasField("global_embedding_constraints") else None)
    optimizer, _ = build_optimizer(wrapped, tc)
    step_opt = StepOptimizer(optimizer, wrapped)
    if ckpt.latest_checkpoint(args.init) is None:
        assert world == 1, "make the initial checkpoint with one process"
        ckpt.save_checkpoint(args.init, 0, wrapped, None, {"world_size": 1}, rank)
    ckpt.load_checkpoint(ckpt.resolve_checkpoint(args.init), wrapped)

    table = pq.read_table(args.data)
    per_rank = args.global_batch // world
    batches = []
    for s in range(args.steps):
        start = s * args.global_batch + rank * per_rank
        batches.append(parser(table.slice(start, per_rank).combine_chunks().to_batches()[0]))
    pipeline = RecTrainPipeline(wrapped, step_opt, device)
    losses = []
    it = iter(batches)
    for _ in batches:
        step_losses, _ = pipeline.progress(it)
        loss = torch.stack(list(step_losses.values())).sum().detach()
        if world > 1:
            dist.all_reduce(loss, op=dist.ReduceOp.AVG)
        losses.append(float(loss))
    if rank == 0:
        with open(args.out, "w") as f:
            json.dump(losses, f)
    destroy_process_group()


if __name__ == "__main__":
    main()

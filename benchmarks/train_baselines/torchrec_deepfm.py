"""Hand-written TorchRec DeepFM / DLRM: the baseline of benchmarks/train_bench.py.

No rec code at all: the Parquet file is read with pyarrow into tensors once, cut into
pre-built batches (dense [B, 13] float, a KeyedJaggedTensor of the 26 id columns, labels),
and the timed loop is forward -> loss -> backward -> dense optimizer step.

The model mirrors rec's DeepFM of benchmarks/configs/criteo_train_deepfm.config layer for
layer: a `wide` EmbeddingBagCollection (one 4-dim table per categorical feature, summed to
one logit), a `deep` EBC (16-dim tables) feeding the FM (0.5 * ((sum v)^2 - sum v^2), [B, 16])
and the deep MLP 429 -> 512 -> 256 -> 128, then final MLP [1 + 16 + 128] -> 64 -> 1, sigmoid
cross-entropy. `--model dlrm` mirrors criteo_train_dlrm.config (dense MLP 13 -> 512 -> 256 -> 16,
pairwise dot interaction of 27 vectors, concat with the sparse embeddings, top MLP 512 -> 256 -> 1).

Embedding variants (`--embedding`):
  dmp    (default) EBCs built on the meta device, `apply_optimizer_in_backward(Adagrad)` on
         their parameters, TorchRec's EmbeddingShardingPlanner (default choices) and
         DistributedModelParallel on a gloo group (this one process, or the ranks of torchrun):
         the fused FBGEMM Adagrad runs inside backward for table-wise tables; the small tables
         the planner makes data_parallel (dense kernel, DDP) get a torch.optim.Adagrad; Adam on
         the MLPs. This is what rec does.
  fused  torchrec.modules.fused_embedding_modules.FusedEmbeddingBagCollection (FBGEMM TBE
         with Adagrad fused into backward), no DMP, no planner; Adam on the dense parameters.
  plain  plain EBC (nn.EmbeddingBag, dense gradients) + torch.optim.Adagrad on the tables,
         Adam on the rest.

`--bf16` runs the forward under torch.autocast(cpu, bfloat16) (rec's train_config.mixed_precision
"BF16" does the same). Under torchrun (--embedding dmp) every rank trains on the same batches and
samples/s counts all ranks.

Prints one JSON line (rank 0): samples/s of each timed window, their median, CPU ms per 1000
samples, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
from torch import nn
from torchrec.modules.embedding_configs import EmbeddingBagConfig, PoolingType
from torchrec.modules.embedding_modules import EmbeddingBagCollection
from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

DENSE = [f"I{i}" for i in range(1, 14)]
SPARSE = [f"C{i}" for i in range(1, 27)]
# Criteo Kaggle (DAC) cardinalities capped at 1M: the num_buckets of the benchmark configs.
CARDINALITIES = [1460, 583, 1000000, 1000000, 305, 24, 12517, 633, 3, 93145, 5683, 1000000, 3194,
                 27, 14992, 1000000, 10, 5652, 2173, 4, 1000000, 18, 15, 286181, 105, 142572]


def mlp(in_dim: int, units: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for u in units:
        layers += [nn.Linear(in_dim, u), nn.ReLU()]
        in_dim = u
    return nn.Sequential(*layers)


def tables(dim: int, suffix: str) -> list[EmbeddingBagConfig]:
    return [
        EmbeddingBagConfig(name=f"{f}_emb{suffix}", embedding_dim=dim, num_embeddings=n, feature_names=[f],
                           pooling=PoolingType.SUM)
        for f, n in zip(SPARSE, CARDINALITIES, strict=True)
    ]


def make_ebc(configs: list[EmbeddingBagConfig], kind: str, device: torch.device) -> nn.Module:
    if kind == "fused":
        from torchrec.modules.fused_embedding_modules import FusedEmbeddingBagCollection

        return FusedEmbeddingBagCollection(configs, optimizer_type=torch.optim.Adagrad,
                                           optimizer_kwargs={"lr": 0.05, "eps": 1e-8}, device=device)
    return EmbeddingBagCollection(tables=configs, device=device)


class DeepFM(nn.Module):
    def __init__(self, kind: str, device: torch.device) -> None:
        super().__init__()
        self.wide_ebc = make_ebc(tables(4, "_wide"), kind, device)
        self.ebc = make_ebc(tables(16, ""), kind, device)
        self.deep = mlp(len(DENSE) + 16 * len(SPARSE), [512, 256, 128])
        self.final = mlp(1 + 16 + 128, [64])
        self.output = nn.Linear(64, 1)

    def forward(self, dense: torch.Tensor, kjt: KeyedJaggedTensor, label: torch.Tensor) -> torch.Tensor:
        wide = self.wide_ebc(kjt).values().sum(dim=1, keepdim=True)  # [B, 1]
        emb = self.ebc(kjt).values()  # [B, 26 * 16], key order C1..C26
        v = emb.view(-1, len(SPARSE), 16)
        fm = 0.5 * (v.sum(dim=1).pow(2) - v.pow(2).sum(dim=1))  # [B, 16]
        deep = self.deep(torch.cat([dense, emb], dim=1))
        logits = self.output(self.final(torch.cat([wide, fm, deep], dim=1))).squeeze(1)
        return nn.functional.binary_cross_entropy_with_logits(logits, label)


class DLRM(nn.Module):
    def __init__(self, kind: str, device: torch.device) -> None:
        super().__init__()
        self.ebc = make_ebc(tables(16, ""), kind, device)
        self.dense_mlp = mlp(len(DENSE), [512, 256, 16])
        n = len(SPARSE) + 1
        rows, cols = torch.triu_indices(n, n, offset=1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.final = mlp(16 + rows.numel() + 16 * len(SPARSE), [512, 256])
        self.output = nn.Linear(256, 1)

    def forward(self, dense: torch.Tensor, kjt: KeyedJaggedTensor, label: torch.Tensor) -> torch.Tensor:
        emb = self.ebc(kjt).values()  # [B, 26 * 16]
        d = self.dense_mlp(dense)
        x = torch.cat([d.unsqueeze(1), emb.view(-1, len(SPARSE), 16)], dim=1)
        inter = torch.bmm(x, x.transpose(1, 2))[:, self.rows, self.cols]
        logits = self.output(self.final(torch.cat([d, inter, emb], dim=1))).squeeze(1)
        return nn.functional.binary_cross_entropy_with_logits(logits, label)


def load_batches(path: str, rows: int, batch_size: int, max_batches: int) -> list[tuple[Any, ...]]:
    """Pre-built (dense, KJT, label) batches of the first `rows` rows."""
    pf = pq.ParquetFile(path)
    out: list[tuple[Any, ...]] = []
    lengths = torch.ones(len(SPARSE) * batch_size, dtype=torch.int32)
    for rb in pf.iter_batches(batch_size=batch_size, columns=DENSE + SPARSE + ["label"]):
        if rb.num_rows < batch_size or len(out) >= min(max_batches, rows // batch_size):
            break
        cols = rb.columns
        dense = torch.from_numpy(np.stack([c.to_numpy() for c in cols[: len(DENSE)]], axis=1).astype(np.float32))
        ids = np.stack([c.to_numpy() for c in cols[len(DENSE): len(DENSE) + len(SPARSE)]])  # [26, B], key-major
        kjt = KeyedJaggedTensor(keys=SPARSE, values=torch.from_numpy(ids.reshape(-1).astype(np.int64)), lengths=lengths)
        label = torch.from_numpy(cols[-1].to_numpy().astype(np.float32))
        out.append((dense, kjt, label))
    return out


def build(args: argparse.Namespace) -> tuple[nn.Module, list[torch.optim.Optimizer]]:
    cls = DeepFM if args.model == "deepfm" else DLRM
    cpu = torch.device("cpu")
    if args.embedding == "dmp":
        import torch.distributed as dist
        from torchrec.distributed import DistributedModelParallel
        from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
        from torchrec.distributed.planner import EmbeddingShardingPlanner, Topology
        from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
        from torchrec.optim.optimizers import in_backward_optimizer_filter

        if not dist.is_initialized():
            if "RANK" not in os.environ:  # plain python: a world of one on a free port
                import socket

                with socket.socket() as s:
                    s.bind(("127.0.0.1", 0))
                    port = s.getsockname()[1]
                os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
            dist.init_process_group("gloo")
        model = cls("dmp", torch.device("meta"))
        for m in model.modules():
            if isinstance(m, EmbeddingBagCollection):
                apply_optimizer_in_backward(torch.optim.Adagrad, m.parameters(), {"lr": 0.05, "eps": 1e-8})
        sharders = [EmbeddingBagCollectionSharder()]
        planner = EmbeddingShardingPlanner(topology=Topology(world_size=dist.get_world_size(), compute_device="cpu"),
                                           batch_size=args.batch_size)
        plan = planner.collective_plan(model, sharders, dist.GroupMember.WORLD)
        dmp = DistributedModelParallel(model, device=cpu, plan=plan, sharders=sharders)
        # tables the planner made data_parallel run on the dense kernel, outside the fused
        # backward: they get their own Adagrad (as rec gives every table the sparse optimizer)
        unfused = dict(in_backward_optimizer_filter(dmp.named_parameters()))
        tables = [p for n, p in unfused.items() if ".embedding_bags." in n]
        dense = [p for n, p in unfused.items() if ".embedding_bags." not in n]
        return dmp, [torch.optim.Adam(dense, lr=0.001), torch.optim.Adagrad(tables, lr=0.05, eps=1e-8)]
    model = cls(args.embedding, cpu)
    emb = {id(p) for m in model.modules() if isinstance(m, EmbeddingBagCollection) for p in m.parameters()}
    fused = {id(p) for n, p in model.named_parameters() if args.embedding == "fused" and "ebc" in n}
    dense = [p for p in model.parameters() if id(p) not in emb and id(p) not in fused]
    opts: list[torch.optim.Optimizer] = [torch.optim.Adam(dense, lr=0.001)]
    if args.embedding == "plain":
        opts.append(torch.optim.Adagrad([p for p in model.parameters() if id(p) in emb], lr=0.05, eps=1e-8))
    return model, opts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="Parquet file (rec-data synth of a criteo_train_* config)")
    p.add_argument("--model", choices=["deepfm", "dlrm"], default="deepfm")
    p.add_argument("--embedding", choices=["dmp", "fused", "plain"], default="dmp")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows to pre-load (at most)")
    p.add_argument("--batch_size", type=int, default=4096)
    p.add_argument("--max_batches", type=int, default=64, help="distinct pre-built batches (cycled)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="steps per timed window")
    p.add_argument("--windows", type=int, default=3, help="timed windows; the median is reported")
    p.add_argument("--bf16", action="store_true", help="forward under torch.autocast(bfloat16), as rec's mixed_precision: BF16")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's / OMP_NUM_THREADS' choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    t0 = time.perf_counter()
    batches = load_batches(args.data, args.rows, args.batch_size, args.max_batches)
    load_s = time.perf_counter() - t0
    model, opts = build(args)
    model.train()

    def step(i: int) -> float:
        dense, kjt, label = batches[i % len(batches)]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = model(dense, kjt, label)
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()
        return float(loss.detach())

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    # under torchrun every rank steps in lock-step (all-to-all, DDP); samples/s counts all ranks
    world = int(os.environ.get("WORLD_SIZE", 1))
    i = 0
    for _ in range(args.warmup):
        step(i)
        i += 1
    rates, cpus, losses = [], [], []
    for _ in range(args.windows):
        start, c0 = time.perf_counter(), cpu()
        for _ in range(args.steps):
            losses.append(step(i))
            i += 1
        rates.append(world * args.steps * args.batch_size / (time.perf_counter() - start))
        cpus.append((cpu() - c0) / (args.steps * args.batch_size) * 1e6)
    if int(os.environ.get("RANK", 0)) == 0:
        print(json.dumps({
            "impl": "torchrec", "model": args.model, "embedding": args.embedding, "bf16": args.bf16,
            "batch_size": args.batch_size,
            "threads": torch.get_num_threads(), "world_size": world, "distinct_batches": len(batches), "load_s": load_s,
            "samples_per_s": statistics.median(rates), "window_samples_per_s": rates,
            "cpu_ms_per_1k_samples": statistics.median(cpus), "first_loss": losses[0], "last_loss": losses[-1],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        }), flush=True)


if __name__ == "__main__":
    main()

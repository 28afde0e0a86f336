"""DeepCTR-Torch's DeepFM on the Criteo-schema benchmark data: a baseline of train_bench.py.

Runs in its own virtual environment (DeepCTR-Torch is not a dependency of rec); train_bench.py
creates it on first use, or by hand:

    uv venv /tmp/deepctr-venv && uv pip install --python /tmp/deepctr-venv \
        deepctr-torch torch==2.13.0 pyarrow requests pip

(deepctr-torch 0.3.0 imports `requests` and `pip._vendor` without declaring them.)

The model: `deepctr_torch.models.DeepFM` with the 26 categorical columns as SparseFeat
(embedding_dim 16, vocabulary = the configs' num_buckets) and the 13 dense columns as DenseFeat,
dnn_hidden_units (512, 256, 128), every other argument at DeepCTR's default (l2_reg_embedding
and l2_reg_linear 1e-5, init_std 1e-4, no dropout, no BN). Its embeddings are nn.Embedding with
dense gradients (DeepCTR's `sparse=False`).

Data: the Parquet file read once with pyarrow into one float32 tensor [N, 39] (DeepCTR's input
layout: each column a slice, ids cast to long inside the model) and labels, cut into
pre-built batches. The timed loop is the body of DeepCTR's `BaseModel.fit` without its
DataLoader: model(x) -> binary_cross_entropy(reduction="sum") + get_regularization_loss()
+ aux_loss -> backward -> step, with Adagrad (lr 0.05) on the embedding tables and Adam
(lr 1e-3) on the rest, as the rec configs set them.

Prints one JSON line: samples/s of each timed window, their median, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

DENSE = [f"I{i}" for i in range(1, 14)]
SPARSE = [f"C{i}" for i in range(1, 27)]
CARDINALITIES = [1460, 583, 1000000, 1000000, 305, 24, 12517, 633, 3, 93145, 5683, 1000000, 3194,
                 27, 14992, 1000000, 10, 5652, 2173, 4, 1000000, 18, 15, 286181, 105, 142572]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch_size", type=int, default=4096)
    p.add_argument("--max_batches", type=int, default=64)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from deepctr_torch.inputs import DenseFeat, SparseFeat
    from deepctr_torch.models import DeepFM

    t0 = time.perf_counter()
    n = min(args.rows, args.max_batches * args.batch_size)
    parts, got = [], 0
    for rb in pq.ParquetFile(args.data).iter_batches(batch_size=args.batch_size, columns=SPARSE + DENSE + ["label"]):
        parts.append(rb)
        got += rb.num_rows
        if got >= n:
            break
    table = pa.Table.from_batches(parts).slice(0, n)
    x = torch.from_numpy(np.stack([table.column(c).to_numpy().astype(np.float32) for c in SPARSE + DENSE], axis=1))
    y = torch.from_numpy(table.column("label").to_numpy().astype(np.float32))
    batches = [(x[i: i + args.batch_size], y[i: i + args.batch_size]) for i in range(0, n - args.batch_size + 1, args.batch_size)]
    load_s = time.perf_counter() - t0

    columns = [SparseFeat(c, vocabulary_size=v, embedding_dim=16) for c, v in zip(SPARSE, CARDINALITIES, strict=True)]
    columns += [DenseFeat(c, 1) for c in DENSE]
    model = DeepFM(columns, columns, dnn_hidden_units=(512, 256, 128), task="binary", device="cpu")
    emb = [p for n_, p in model.named_parameters() if "embedding_dict" in n_]
    emb_ids = {id(p) for p in emb}
    opts = [torch.optim.Adagrad(emb, lr=0.05), torch.optim.Adam([p for p in model.parameters() if id(p) not in emb_ids], lr=1e-3)]
    model.train()

    def step(i: int) -> float:
        xb, yb = batches[i % len(batches)]
        y_pred = model(xb).squeeze(-1)
        for o in opts:
            o.zero_grad()
        loss = F.binary_cross_entropy(y_pred, yb, reduction="sum")
        total = loss + model.get_regularization_loss() + model.aux_loss
        value = loss.item()
        total.backward()
        for o in opts:
            o.step()
        return value / len(yb)

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

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
        rates.append(args.steps * args.batch_size / (time.perf_counter() - start))
        cpus.append((cpu() - c0) / (args.steps * args.batch_size) * 1e6)
    print(json.dumps({
        "impl": "deepctr-torch", "model": "deepfm", "batch_size": args.batch_size, "threads": args.threads,
        "distinct_batches": len(batches), "load_s": load_s,
        "samples_per_s": statistics.median(rates), "window_samples_per_s": rates,
        "cpu_ms_per_1k_samples": statistics.median(cpus), "first_loss": losses[0], "last_loss": losses[-1],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()

"""Data-loading benchmark: Parquet → parsed `Batch` rows/s and peak memory; sampler negatives/s.

    uv run python benchmarks/data_bench.py                      # 1M rows, 0/1/2 workers
    uv run python benchmarks/data_bench.py --rows 200000 --repeat 1 --skip_train   # quick look

For each config (benchmarks/configs/criteo_deepfm.config: 13 dense + 26 categorical,
FG_NONE; taobao_deepfm.config: Taobao-like raw columns, FG_NORMAL; taobao_seq.config: the
same plus a grouped click history of up to 50 elements, MultiTowerDIN) the data
is made with `rec-data synth` (cached under --data_dir), then, each in a fresh process so
peak memory is its own:

- pyarrow: `ParquetFile.iter_batches` over the columns the parser reads (the baseline);
- reader: rec-data's reader alone (splits, re-batching to batch_size), in-process;
- loader wN: `create_dataloader(...)` with the config's FeatureParser, N DataLoader workers,
  every batch a parsed `Batch` (what training consumes).

Rows/s is the best of --repeat rounds (every pipeline once per round, so load from other
processes on the machine spreads over all of them); "steady" counts from the first batch on,
leaving out start-up (DataLoader workers, the first file open). Memory: peak RSS of the process (and of its largest
DataLoader worker), and the peak of Arrow's memory pool in the main process. Then training
each config's model on its data (`python -m rec_dist.cli.train`, --train_steps steps; DeepFM
for criteo, MultiTowerDIN for taobao_seq) gives the rows/s training consumes, and the
samplers are timed on synthetic tables (1M items).
Results print as a table and go to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "criteo": ROOT / "benchmarks/configs/criteo_deepfm.config",
    "taobao": ROOT / "benchmarks/configs/taobao_deepfm.config",
    "taobao_seq": ROOT / "benchmarks/configs/taobao_seq.config",
}
# configs whose training speed is compared with their loader's (see --train_steps)
TRAINED = ("criteo", "taobao_seq")


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


# ----------------------------------------------------------------------------------------
# One measurement, in a fresh process.
def _child(spec: dict[str, Any]) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rec_core.config import load_pipeline_config
    from rec_dist.setup import build_features

    config = load_pipeline_config(spec["config"])
    data = config.data_config
    _, parser = build_features(config)
    columns = parser.input_columns()
    batch_size = int(spec["batch_size"])
    rss_start = _rss_mb(resource.RUSAGE_SELF)
    pool = pa.default_memory_pool()
    rows = 0
    first: tuple[float, int] | None = None  # (time, rows) when the first batch arrived
    start = time.perf_counter()
    if spec["what"] == "pyarrow":
        pf = pq.ParquetFile(spec["path"])
        stream: Any = (b.num_rows for b in pf.iter_batches(batch_size=batch_size, columns=columns))
    elif spec["what"] == "reader":
        from rec_data.readers import create_reader

        stream = (b.num_rows for b in create_reader(data, spec["path"], columns=columns, batch_size=batch_size))
    else:
        from rec_data.loader import create_dataloader

        data.num_workers = int(spec["workers"])
        loader = create_dataloader(data, spec["path"], parser, columns=columns, batch_size=batch_size)
        stream = (batch.batch_size for batch in loader)
    for n in stream:
        rows += n
        if first is None:
            first = (time.perf_counter(), rows)
    end = time.perf_counter()
    seconds = end - start
    assert first is not None
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "first_batch_s": first[0] - start,
        # After the first batch: the rate once workers are up (what a long epoch sees).
        "steady_rows_per_s": (rows - first[1]) / max(end - first[0], 1e-9),
        "rss_start_mb": rss_start,
        "peak_rss_mb": _rss_mb(resource.RUSAGE_SELF),
        # Largest child process: the DataLoader workers (0 when there are none).
        "peak_worker_rss_mb": _rss_mb(resource.RUSAGE_CHILDREN) if spec.get("workers") else 0.0,
        "arrow_pool_peak_mb": pool.max_memory() / 2**20 if pool.max_memory() is not None else None,
    }


def _measure_once(spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--_child", json.dumps(spec)],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}, cwd=ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{spec}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _keep_best(best: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The faster run's figures; memory peaks are the largest seen over all runs."""
    if best is None:
        return {**new, "runs_rows_per_s": [new["rows_per_s"]]}
    runs = best["runs_rows_per_s"] + [new["rows_per_s"]]
    peaks = {k: max(best[k], new[k]) for k in ("peak_rss_mb", "peak_worker_rss_mb")}
    top = new if new["rows_per_s"] > best["rows_per_s"] else best
    return {**top, **peaks, "runs_rows_per_s": runs}


# ----------------------------------------------------------------------------------------
def _synth(name: str, rows: int, data_dir: Path) -> str:
    path = data_dir / f"{name}_{rows}.parquet"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "rec_data.cli", "synth", "--pipeline_config_path", str(CONFIGS[name]),
               "--num_rows", str(rows), "--output", str(path), "--seed", "1"]
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return str(path)


def _train_rows_per_s(name: str, path: str, steps: int, batch_size: int, workdir: Path) -> dict[str, Any]:
    """Rows/s training config `name` consumes (the last progress report of `rec_dist.cli.train`)."""
    edits = {
        "train_input_path": path,
        "eval_input_path": "",
        "model_dir": str(workdir / "model"),
        "train_config.num_steps": steps,
        "train_config.log_step_count_steps": max(1, steps // 3),
        "train_config.save_checkpoints_steps": 10 * steps,
        "data_config.batch_size": batch_size,
    }
    cmd = [sys.executable, "-m", "rec_dist.cli.train", "--pipeline_config_path", str(CONFIGS[name]),
           "--edit_config_json", json.dumps(edits)]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - start
    if out.returncode != 0:
        return {"error": out.stderr[-1500:]}
    rates = [float(x) for x in re.findall(r"samples/s=([0-9.]+)", out.stderr + out.stdout)]
    return {"steps": steps, "batch_size": batch_size, "rows_per_s": rates[-1] if rates else None,
            "all_reports": rates, "wall_s": wall}


# ----------------------------------------------------------------------------------------
def _sampler_tables(tmp: Path, n_items: int, n_users: int, seed: int = 0) -> dict[str, str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = np.arange(n_items) + 1000
    weights = 1.0 / (np.arange(1, n_items + 1) ** 0.8)
    cates = rng.integers(0, 1000, n_items)
    brands = rng.integers(0, 50000, n_items)
    feature = np.char.add(np.char.add(np.char.add(np.char.add(ids.astype(str), ":"), cates.astype(str)), ":"), brands.astype(str))
    items = tmp / "items.txt"
    with open(items, "w") as f:
        f.write("id:int64\tweight:float\tfeature:string\n")
        f.writelines(f"{i}\t{w:.6g}\t{s}\n" for i, w, s in zip(ids, weights, feature, strict=True))
    users = tmp / "users.txt"
    users.write_text("id:int64\tweight:float\n" + "".join(f"{u}\t1\n" for u in range(n_users)))

    def edges(path: Path, per_user: int) -> str:
        src = np.repeat(np.arange(n_users), per_user)
        dst = ids[rng.integers(0, n_items, len(src))]
        with open(path, "w") as f:
            f.write("userid:int64\titemid:int64\tweight:float\n")
            f.writelines(f"{s}\t{d}\t1.0\n" for s, d in zip(src, dst, strict=True))
        return str(path)

    # TDM: a complete binary tree over the first 2^depth items as leaves.
    depth = min(17, int(np.log2(n_items)))
    leaves = ids[: 2**depth]
    nodes, tree_edges = ["id:int64\tweight:float\tfeature:string"], ["src_id:int64\tdst_id:int64\tweight:float"]
    inner = 10**9  # inner node ids: 10^9 + heap index
    for level in range(depth):
        for k in range(2**level):
            heap = 2**level + k
            nodes.append(f"{inner + heap}\t1.0\t{level},{inner + heap},0,0")
    for j, leaf in enumerate(leaves):
        nodes.append(f"{leaf}\t1.0\t{depth},{leaf},{cates[j]},{brands[j]}")
        heap = 2**depth + j
        for level in range(depth - 1, 0, -1):
            heap //= 2
            tree_edges.append(f"{leaf}\t{inner + heap}\t1.0")
    (tmp / "nodes.txt").write_text("\n".join(nodes) + "\n")
    (tmp / "tree_edges.txt").write_text("\n".join(tree_edges) + "\n")
    return {"items": str(items), "users": str(users), "pos": edges(tmp / "pos.txt", 20),
            "hard": edges(tmp / "hard.txt", 10), "nodes": str(tmp / "nodes.txt"),
            "tree_edges": str(tmp / "tree_edges.txt"), "depth": str(depth)}


def _bench_samplers(n_items: int, n_users: int, batch: int, seconds: float) -> list[dict[str, Any]]:
    import numpy as np
    import pyarrow as pa

    from rec_core.protos import data_pb2, sampler_pb2
    from rec_data.samplers import create_sampler

    results = []
    with tempfile.TemporaryDirectory() as d:
        t = _sampler_tables(Path(d), n_items, n_users)
        attrs = ["item_id", "cate", "brand"]
        common = dict(attr_fields=attrs, item_id_field="item_id")
        depth = int(t["depth"])
        v2 = dict(user_input_path=t["users"], item_input_path=t["items"], pos_edge_input_path=t["pos"],
                  num_sample=batch, user_id_field="user_id", **common)
        # "<DataConfig sampler field>[ <variant>]"
        cases = {
            "negative_sampler": sampler_pb2.NegativeSampler(input_path=t["items"], num_sample=batch, **common),
            "negative_sampler_v2": sampler_pb2.NegativeSamplerV2(**v2),
            "negative_sampler_v2 masked": sampler_pb2.NegativeSamplerV2(mask_user_positives=True, **v2),
            "hard_negative_sampler": sampler_pb2.HardNegativeSampler(
                user_input_path=t["users"], item_input_path=t["items"], hard_neg_edge_input_path=t["hard"],
                num_sample=batch, num_hard_sample=5, user_id_field="user_id", **common),
            "hard_negative_sampler_v2": sampler_pb2.HardNegativeSamplerV2(
                user_input_path=t["users"], item_input_path=t["items"], hard_neg_edge_input_path=t["hard"],
                pos_edge_input_path=t["pos"], num_sample=batch, num_hard_sample=5, user_id_field="user_id", **common),
            "tdm_sampler": sampler_pb2.TDMSampler(
                item_input_path=t["nodes"], edge_input_path=t["tree_edges"], predict_edge_input_path=t["tree_edges"],
                attr_fields=["tree_level", "item_id", "cate", "brand"], item_id_field="item_id", attr_delimiter=",",
                layer_num_sample=[0] + [min(2**lv - 1, 1 + lv // 2) for lv in range(1, depth)] + [20]),
        }
        rng = np.random.default_rng(0)
        item_ids = np.arange(2**depth) + 1000  # the TDM leaves; any item for the others
        for name, message in cases.items():
            data = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, label_fields=["clk"])
            getattr(data, name.split()[0]).CopyFrom(message)
            sampler = create_sampler(data, "train")
            users = rng.integers(0, n_users, batch)
            rows = pa.record_batch({
                "user_id": pa.array(users, pa.int64()),
                "item_id": pa.array(rng.choice(item_ids, batch), pa.int64()),
                "cate": pa.array(rng.integers(0, 1000, batch), pa.int64()),
                "brand": pa.array(rng.integers(0, 50000, batch), pa.int64()),
                "clk": pa.array(np.ones(batch, np.int64)),
            })
            start = time.perf_counter()
            sampler.ensure_loaded()
            load_s = time.perf_counter() - start
            calls, sampled, start = 0, 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                out = sampler.sample(rows, rng)
                sampled += out.negatives.num_rows + (out.positives.num_rows if out.positives is not None else 0)
                calls += 1
            elapsed = time.perf_counter() - start
            results.append({
                "sampler": name, "table_rows": n_items if name != "tdm_sampler" else 2 ** (depth + 1) - 1,
                "batch_rows": batch, "sampled_per_batch": sampled // calls, "load_s": load_s,
                "batches_per_s": calls / elapsed, "negatives_per_s": sampled / elapsed,
            })
    return results


# ----------------------------------------------------------------------------------------
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--batch_size", type=int, default=8192)
    p.add_argument("--repeat", type=int, default=5, help="rounds of measurements; the best rows/s of each is kept")
    p.add_argument("--configs", default="criteo,taobao,taobao_seq")
    p.add_argument("--data_dir", default=str(Path(tempfile.gettempdir()) / "rec_data_bench"))
    p.add_argument("--train_steps", type=int, default=30)
    p.add_argument("--skip_train", action="store_true")
    p.add_argument("--sampler_items", type=int, default=1_000_000)
    p.add_argument("--sampler_seconds", type=float, default=3.0)
    p.add_argument("--skip_samplers", action="store_true")
    p.add_argument("--json", default=str(ROOT / "benchmarks/results/data_bench.json"))
    p.add_argument("--_child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._child:
        print(json.dumps(_child(json.loads(args._child))))
        return

    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    report: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "rows": args.rows, "batch_size": args.batch_size, "repeat": args.repeat, "loading": [],
        "load_average_at_start": os.getloadavg(),
    }
    print(f"rows={args.rows} batch_size={args.batch_size} repeat={args.repeat} cpus={os.cpu_count()}", flush=True)
    header = (f"{'config':<8} {'pipeline':<10} {'rows/s':>11} {'vs pyarrow':>10} {'steady rows/s':>13} {'1st batch s':>11} "
              f"{'peak RSS MB':>11} {'worker RSS MB':>13} {'arrow peak MB':>13}")
    print(header)
    # Every pipeline once per round, rounds repeated: load from elsewhere on the machine then
    # spreads over all of them, and the best of the rounds is kept for each.
    plan = []
    for name in [c for c in args.configs.split(",") if c]:
        path = _synth(name, args.rows, Path(args.data_dir))
        runs = [("pyarrow", {"what": "pyarrow"}), ("reader", {"what": "reader"})]
        runs += [(f"loader w{w}", {"what": "loader", "workers": w}) for w in workers]
        for label, extra in runs:
            plan.append((name, label, {"config": str(CONFIGS[name]), "path": path, "batch_size": args.batch_size, **extra}))
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for round_ in range(args.repeat):
        for name, label, spec in plan:
            r = _measure_once(spec)
            assert r["rows"] == args.rows, r
            best[(name, label)] = _keep_best(best.get((name, label)), r)
        print(f"round {round_ + 1}/{args.repeat} done", flush=True)
    for name, label, _ in plan:
        r = best[(name, label)]
        base = best[(name, "pyarrow")]
        r.update(config=name, pipeline=label, vs_pyarrow=r["rows_per_s"] / base["rows_per_s"],
                 steady_vs_pyarrow=r["steady_rows_per_s"] / base["steady_rows_per_s"])
        report["loading"].append(r)
        arrow = f"{r['arrow_pool_peak_mb']:.0f}" if r["arrow_pool_peak_mb"] is not None else "-"
        print(f"{name:<8} {label:<10} {r['rows_per_s']:>11,.0f} {r['vs_pyarrow']:>10.2f} {r['steady_rows_per_s']:>13,.0f} "
              f"{r['first_batch_s']:>11.2f} {r['peak_rss_mb']:>11.0f} {r['peak_worker_rss_mb']:>13.0f} {arrow:>13}", flush=True)

    report["training"] = {}
    for name in [c for c in args.configs.split(",") if c in TRAINED and not args.skip_train]:
        with tempfile.TemporaryDirectory() as d:
            path = _synth(name, args.rows, Path(args.data_dir))
            tries = [_train_rows_per_s(name, path, args.train_steps, args.batch_size, Path(d) / str(i)) for i in range(2)]
            ok = [t for t in tries if t.get("rows_per_s")]
            train = max(ok, key=lambda t: t["rows_per_s"]) if ok else tries[-1]
        report["training"][name] = train
        if train.get("rows_per_s"):
            loaders = {r["pipeline"]: r["rows_per_s"] for r in report["loading"] if r["config"] == name}
            train["loader_over_training"] = {k: v / train["rows_per_s"] for k, v in loaders.items() if k.startswith("loader")}
            print(f"training ({name}, {args.train_steps} steps of {args.batch_size}): "
                  f"{train['rows_per_s']:,.0f} rows/s; loader / training: "
                  + ", ".join(f"{k} {v:.1f}x" for k, v in train["loader_over_training"].items()), flush=True)
        else:
            print(f"training run ({name}) failed: {train.get('error', '')[-500:]}")

    if not args.skip_samplers:
        print(f"{'sampler':<26} {'table rows':>10} {'per batch':>9} {'load s':>7} {'batches/s':>9} {'negatives/s':>12}")
        report["samplers"] = _bench_samplers(args.sampler_items, 100_000, 1024, args.sampler_seconds)
        for s in report["samplers"]:
            print(f"{s['sampler']:<26} {s['table_rows']:>10,} {s['sampled_per_batch']:>9,} {s['load_s']:>7.1f} "
                  f"{s['batches_per_s']:>9.1f} {s['negatives_per_s']:>12,.0f}", flush=True)

    report["load_average_at_end"] = os.getloadavg()
    print(f"load average (1/5/15 min) at start {report['load_average_at_start']}, at end {report['load_average_at_end']}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

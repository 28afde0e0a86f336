"""Serving benchmark: DeepFM on Criteo-schema data, exported every way rec-export can on CPU.

    uv run python benchmarks/serve_bench.py                 # full run (about 15 minutes here)
    uv run python benchmarks/serve_bench.py --train_rows 20000 --eval_rows 4000 --rounds 2 --calls 20 --serve_seconds 2

Data: `rec-data synth` of benchmarks/configs/criteo_train_deepfm.config (13 dense + 26 categorical
columns, Criteo Kaggle cardinalities capped at 1M, FG_NONE), made as in train_bench.py;
--train_rows train a checkpoint with `rec-train` (batch 4096), the next --eval_rows are held out.

Variants, all from that one checkpoint:
- eager: the checkpoint's model in Python (ScriptWrapper, torch.inference_mode).
- torchscript: `rec-export` with QUANT_EMB=0 (float32 tables), scripted_model.pt.
- aot: QUANT_EMB=0 ENABLE_AOT=1: scripted sparse part + AOTInductor dense part.
- int8: QUANT_EMB=INT8 (TorchEasyRec's default): TorchRec's quantized tables, TorchScript.
- int4: QUANT_EMB=INT4, for comparison of sizes and AUC.

Figures:
- model latency p50/p99 (ms) at batch 1 and --batch rows, and rows/s at both, of the model on
  pre-packed inputs (FG excluded); rounds interleave the variants, --calls calls per variant and
  batch size a round; rows/s is the median over rounds of rows / time of the round's calls.
- split: the two halves of a compiled export timed alone at --batch rows: the scripted sparse
  part (embedding lookups), and the dense part compiled by AOTInductor vs the same dense graph
  in TorchScript (made here from the checkpoint).
- predictor rows/s: `Predictor.predict` on --batch raw rows (FG from fg.json included).
- rec-serve: `python -m rec_export.serve` in its own process, a load generator of --clients
  threads on loopback (keep-alive connections) posting the same request for --serve_seconds;
  requests/s, rows/s and latency p50/p99, for requests of 1 and of --batch rows.
- sizes: each export directory on disk, and its embedding tables as stored (EMBEDDING_BYTES of
  model_acc.json); AUC of the torchscript and int8 exports on the held-out rows.
Ratios are against torchscript in the same run. Threads: --threads torch threads in the
benchmark process and in rec-serve (OMP_NUM_THREADS). Results print as a table and go to
--output as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from train_bench import CONFIGS, _git_state, synth  # noqa: E402  (benchmarks/ is not a package)

VARIANTS: dict[str, dict[str, Any]] = {
    "torchscript": {"quant_emb": ""},
    "aot": {"quant_emb": "", "enable_aot": True},
    "int8": {"quant_emb": "INT8"},
    "int4": {"quant_emb": "INT4"},
}


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from torchmetrics.functional.classification import binary_auroc

    return float(binary_auroc(torch.from_numpy(scores), torch.from_numpy(labels).long()))


def prepare(args: argparse.Namespace, work: Path) -> tuple[Path, Path, Path]:
    """Train/eval Parquet files and a pipeline config whose model_dir holds a trained checkpoint."""
    from rec_core.config import edit_config, load_pipeline_config, save_message

    table = pq.read_table(synth(args.train_rows + args.eval_rows, Path(args.data_dir)))
    train, held_out = work / "train.parquet", work / "eval.parquet"
    pq.write_table(table.slice(0, args.train_rows), train, row_group_size=65536)
    pq.write_table(table.slice(args.train_rows), held_out)
    config = load_pipeline_config(str(CONFIGS["deepfm"]))
    steps = max(1, args.train_rows // config.data_config.batch_size)
    edit_config(config, {"train_input_path": str(train), "eval_input_path": "", "model_dir": str(work / "model"),
                         "train_config.num_steps": steps})
    path = work / "pipeline.config"
    save_message(config, str(path))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "rec_dist.cli.train", "--pipeline_config_path", str(path)],
                            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
    if result.returncode != 0:
        raise RuntimeError(f"rec-train failed:\n{result.stderr[-3000:]}")
    print(f"trained {steps} steps in {time.perf_counter() - started:.0f} s", flush=True)
    return path, train, held_out


def export_all(config: Path, work: Path, max_batch: int) -> dict[str, dict[str, Any]]:
    """Every variant exported from the config's checkpoint: directory, export seconds, sizes."""
    from rec_export.acc import AccConfig
    from rec_export.exporter import export

    out = {}
    for name, flags in VARIANTS.items():
        target = work / f"export_{name}"
        started = time.perf_counter()
        export(str(config), str(target), acc=AccConfig(max_export_batch_size=max_batch, **flags))
        acc = json.loads((target / "model_acc.json").read_text())
        out[name] = {"dir": target, "export_s": round(time.perf_counter() - started, 1),
                     "disk_bytes": _dir_bytes(target), "embedding_bytes": acc["EMBEDDING_BYTES"]}
        print(f"exported {name} in {out[name]['export_s']} s", flush=True)
    return out


def _time_calls(fn: Callable[[], Any], calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def model_latency(runners: dict[str, Callable[[dict], Any]], inputs: dict[int, dict], args: argparse.Namespace) -> dict[str, Any]:
    """p50/p99 latency and rows/s of each runner at each batch size, interleaved over rounds."""
    samples: dict[tuple[str, int], list[float]] = {(n, b): [] for n in runners for b in inputs}
    rates: dict[tuple[str, int], list[float]] = {(n, b): [] for n in runners for b in inputs}
    for name, run in runners.items():  # warm-up: first calls compile and allocate
        for batch in inputs.values():
            _time_calls(lambda run=run, batch=batch: run(batch), args.warmup)
    for _ in range(args.rounds):
        for name, run in runners.items():
            for size, batch in inputs.items():
                times = _time_calls(lambda run=run, batch=batch: run(batch), args.calls)
                samples[(name, size)] += times
                rates[(name, size)].append(size * len(times) / sum(times))
    out: dict[str, Any] = {}
    for (name, size), times in samples.items():
        ms = np.asarray(times) * 1000
        out.setdefault(name, {})[f"batch_{size}"] = {
            "p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "rows_per_s": round(statistics.median(rates[(name, size)])),
        }
    return out


def split_breakdown(eager: torch.nn.Module, aot: Any, batch: dict, args: argparse.Namespace) -> dict[str, float]:
    """Median ms of the AOT export's sparse part, its AOTInductor dense part, and that dense graph scripted."""
    from torchrec.fx import symbolic_trace

    from rec_models.split import split_sparse_dense

    dense_ts = torch.jit.script(split_sparse_dense(symbolic_trace(eager)).dense)
    with torch.inference_mode():
        cut = aot.sparse(batch)
        args_ = [cut[n] for n in aot.names]
        parts = {"sparse_torchscript": lambda: aot.sparse(batch), "dense_aot": lambda: aot.dense(*args_),
                 "dense_torchscript": lambda: dense_ts(*args_)}
        out = {}
        for name, fn in parts.items():
            _time_calls(fn, args.warmup)
            out[f"{name}_ms"] = round(statistics.median(_time_calls(fn, args.calls * args.rounds)) * 1000, 3)
    return out


def _load(address: tuple[str, int], body: bytes, clients: int, seconds: float) -> dict[str, Any]:
    """Post `body` from `clients` keep-alive connections for `seconds`; answers must all be 200."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    deadline = time.perf_counter() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(*address, timeout=120)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(str(response.status))
                return
            latencies[i].append(time.perf_counter() - started)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"rec-serve answered {failures[:3]}")
    ms = np.asarray([x for lat in latencies for x in lat]) * 1000
    return {"requests_per_s": round(len(ms) / elapsed, 1), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "requests": len(ms)}


def serve_load(export_dir: Path, rows: list[dict], args: argparse.Namespace) -> dict[str, Any]:
    """rec-serve of one export under the loopback load generator, for 1-row and --batch-row requests."""
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    proc = subprocess.Popen([sys.executable, "-m", "rec_export.serve", "--export_dir", str(export_dir), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        match = re.match(r"serving on http://([\d.]+):(\d+)", line)
        if not match:
            raise RuntimeError(f"rec-serve did not start: {line}{proc.stderr.read()}")  # type: ignore[union-attr]
        address = (match.group(1), int(match.group(2)))
        out = {}
        for size in (1, args.batch):
            body = json.dumps({"rows": rows[:size]}).encode()
            _load(address, body, args.clients, min(1.0, args.serve_seconds))  # warm-up
            result = _load(address, body, args.clients, args.serve_seconds)
            result["rows_per_s"] = round(result["requests_per_s"] * size)
            out[f"rows_{size}"] = result
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train_rows", type=int, default=400_000)
    p.add_argument("--eval_rows", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=256, help="the large batch size (rows per call / request)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=100, help="timed calls per variant, batch size and round")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--clients", type=int, default=4, help="load generator threads")
    p.add_argument("--serve_seconds", type=float, default=10.0)
    p.add_argument("--data_dir", default=str(Path(tempfile.gettempdir()) / "rec_train_bench"))
    p.add_argument("--output", default=str(ROOT / "benchmarks/results/serve_bench.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "loadavg_start": os.getloadavg()},
        "settings": vars(args), "git": _git_state(),
    }
    from rec_dist.predict import load_checkpoint_model
    from rec_export import Predictor
    from rec_export.packing import pack
    from rec_export.runtime import ExportedModel
    from rec_models.wrappers import ScriptWrapper

    with tempfile.TemporaryDirectory(prefix="rec_serve_bench_") as tmp:
        work = Path(tmp)
        config, _, held_out = prepare(args, work)
        exports = export_all(config, work, max(args.batch, 512))
        from rec_dist.setup import prepare_config

        eager = ScriptWrapper(load_checkpoint_model(prepare_config(str(config)), None))
        loaded = {name: ExportedModel(str(e["dir"])) for name, e in exports.items()}
        eval_table = pq.read_table(held_out)
        features = loaded["torchscript"]
        # the first `size` rows, packed as the Predictor packs them
        inputs = {}
        for size in (1, args.batch):
            part = eval_table.slice(0, size)
            cols = {n: part.column(n).combine_chunks() for n in part.column_names}
            inputs[size] = pack(features.emitted, features.graph.compute(cols, size))

        def eager_run(batch: dict) -> Any:
            with torch.inference_mode():
                return eager(batch)

        runners: dict[str, Callable[[dict], Any]] = {"eager": eager_run, **loaded}
        report["model"] = model_latency(runners, inputs, args)
        print("model latency done", flush=True)

        report["split"] = split_breakdown(eager, loaded["aot"].runner, inputs[args.batch], args)

        raw = eval_table.drop(["label"]).slice(0, args.batch)
        predictors = {name: Predictor(str(e["dir"])) for name, e in exports.items()}
        report["predictor_rows_per_s"] = {}
        for name, predictor in predictors.items():
            _time_calls(lambda predictor=predictor: predictor.predict(raw), args.warmup)
            times = _time_calls(lambda predictor=predictor: predictor.predict(raw), max(5, args.calls // 5))
            report["predictor_rows_per_s"][name] = round(args.batch * len(times) / sum(times))

        labels = eval_table["label"].to_numpy()
        features_only = eval_table.drop(["label"])
        aucs = {name: _auc(labels, predictors[name].predict(features_only)["probs"]) for name in ("torchscript", "int8", "int4")}
        report["auc"] = {**{k: round(v, 5) for k, v in aucs.items()},
                         **{f"{q}_drop": round(aucs["torchscript"] - aucs[q], 5) for q in ("int8", "int4")}}

        rows = raw.to_pylist()
        report["serve"] = {name: serve_load(exports[name]["dir"], rows, args) for name in ("torchscript", "aot", "int8")}
        report["sizes"] = {name: {k: v for k, v in e.items() if k != "dir"} for name, e in exports.items()}
    report["machine"]["loadavg_end"] = os.getloadavg()
    ts = report["model"]["torchscript"][f"batch_{args.batch}"]["rows_per_s"]
    sizes = report["sizes"]
    report["goals"] = {
        "aot_vs_torchscript_rows_per_s": round(report["model"]["aot"][f"batch_{args.batch}"]["rows_per_s"] / ts, 2),
        "int8_embeddings_smaller_x": round(sizes["torchscript"]["embedding_bytes"] / sizes["int8"]["embedding_bytes"], 2),
        "int8_export_smaller_x": round(sizes["torchscript"]["disk_bytes"] / sizes["int8"]["disk_bytes"], 2),
        "int8_auc_drop": report["auc"]["int8_drop"],
        "int4_embeddings_smaller_x": round(sizes["torchscript"]["embedding_bytes"] / sizes["int4"]["embedding_bytes"], 2),
    }
    _print(report, args.batch)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"wrote {args.output}")


def _print(report: dict[str, Any], batch: int) -> None:
    ts = report["model"]["torchscript"]
    print(f"\n| variant | p50 ms b1 | p99 ms b1 | rows/s b1 | p50 ms b{batch} | p99 ms b{batch} | rows/s b{batch} | vs torchscript |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, m in report["model"].items():
        b1, bn = m["batch_1"], m[f"batch_{batch}"]
        ratio = bn["rows_per_s"] / ts[f"batch_{batch}"]["rows_per_s"]
        print(f"| {name} | {b1['p50_ms']} | {b1['p99_ms']} | {b1['rows_per_s']:,} | {bn['p50_ms']} | {bn['p99_ms']} | "
              f"{bn['rows_per_s']:,} | {ratio:.2f} |")
    print(f"\nsplit (batch {batch}): {report['split']}")
    print(f"predictor rows/s (FG + model, batch {batch}): {report['predictor_rows_per_s']}")
    print(f"rec-serve: {json.dumps(report['serve'])}")
    print(f"sizes: {json.dumps(report['sizes'])}")
    print(f"AUC: {report['auc']}")
    print(f"goals: {report['goals']}")


if __name__ == "__main__":
    main()

"""Model quality on real public data sets, next to the published figures for the same split.

    uv run python benchmarks/quality.py                                  # every model (about an hour on 2 cores)
    uv run python benchmarks/quality.py --models deepfm,dcn --out /tmp/q.json

Ranking models train on Frappe_x1 (BARS split; examples/frappe) and are compared with the BARS
leaderboard's test AUC / log loss. Protocol, as BARS: train on train, evaluate on valid after
every epoch, keep the best-valid checkpoint (by AUC) and score it once on test with `rec-eval`.

Two-tower retrieval (DSSM) trains on MovieLens-1M (LCFN split; examples/ml1m) and is compared
with the Recall@20 / NDCG@20 that SimpleX and UltraGCN publish for this split: full-corpus
ranking of all items for every test user, the user's training items excluded
(benchmarks/quality_retrieval.py).

MovieLens-100K (examples/ml100k): a DeepFM rating regressor trains on each official fold
u1..u5 for a fixed number of epochs and is scored on the fold's test ratings; RMSE / MAE are
averaged over the folds and set next to Surprise's 5-fold figures (other folds). A feature-rich
DSSM trains on fold u1 and is scored by full-corpus Recall@20 / NDCG@20 as above (no published
figure). Ali-CCP and Taobao (examples/aliccp, examples/taobao) are samples too small for a
meaningful AUC: their multi-task models train for a fixed number of epochs and the per-task AUCs
on the held-out rows are wiring evidence only.

Every run uses `rec-train --seed` (default 2021, BARS's seed) and a fresh model_dir under
--work_dir. Data are read from --data_root (default ../shared/data) and converted under
--work_dir; nothing is written into the repository except --out. Progress goes to stderr; the
Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from quality_retrieval import by_user, evaluate_retrieval, recall_ndcg, tower_embeddings  # noqa: E402


@dataclass(frozen=True)
class Spec:
    """One example: its config, data set and the published reference figures."""

    config: str
    dataset: str
    reference: dict[str, float]
    source: str
    extra: dict[str, Any] = field(default_factory=dict)


BARS = "BARS Frappe_x1 leaderboard (test, seed 2021)"
SPECS: dict[str, Spec] = {
    "dnn": Spec("examples/frappe/dnn.config", "frappe_x1", {"auc": 0.9833, "logloss": 0.1622}, BARS + ", DNN"),
    "wide_and_deep": Spec("examples/frappe/wide_and_deep.config", "frappe_x1", {"auc": 0.9841, "logloss": 0.1490}, BARS),
    "deepfm": Spec("examples/frappe/deepfm.config", "frappe_x1", {"auc": 0.9842, "logloss": 0.1482}, BARS),
    "dcn": Spec("examples/frappe/dcn.config", "frappe_x1", {"auc": 0.9839, "logloss": 0.1527}, BARS),
    "dcn_v2": Spec("examples/frappe/dcn_v2.config", "frappe_x1", {"auc": 0.9845, "logloss": 0.1491}, BARS),
    "dlrm": Spec("examples/frappe/dlrm.config", "frappe_x1", {"auc": 0.9840, "logloss": 0.1444}, BARS),
    "xdeepfm": Spec("examples/frappe/xdeepfm.config", "frappe_x1", {"auc": 0.9845, "logloss": 0.1466}, BARS),
    "masknet": Spec("examples/frappe/masknet.config", "frappe_x1", {"auc": 0.9837, "logloss": 0.1696}, BARS),
    "dssm": Spec(
        "examples/ml1m/dssm.config",
        "ml1m_lcfn",
        {"recall@20": 0.2802, "ndcg@20": 0.2670},
        "SimpleX on MovieLens-1M (RecZoo SimpleX README); UltraGCN 0.2787 / 0.2642",
    ),
    "ml100k_deepfm_rating": Spec(
        "examples/ml100k/deepfm_rating.config",
        "ml100k",
        {"rmse": 0.934, "mae": 0.737},
        "Surprise SVD, 5-fold CV on Surprise's own folds (Surprise README); biases-only baseline 0.944 / 0.748",
        {"task": "rating"},
    ),
    "ml100k_dssm": Spec(
        "examples/ml100k/dssm.config", "ml100k", {}, "none published for MovieLens-100K", {"task": "feature_retrieval"}
    ),
    "aliccp_mmoe": Spec(
        "examples/aliccp/mmoe.config", "aliccp_sample", {}, "none: 200-row sample, wiring check only", {"task": "multitask"}
    ),
    "taobao_dbmtl": Spec(
        "examples/taobao/dbmtl.config", "taobao_easyrec", {}, "none: 10,000-row sample, wiring check only", {"task": "multitask"}
    ),
}
RANKING_METRICS = {"auc": "auc", "logloss": "binary_cross_entropy"}
# data set -> (conversion script, a file it writes last)
PREPARE = {
    "frappe_x1": ("examples/frappe/prepare_data.py", "test.parquet"),
    "ml1m_lcfn": ("examples/ml1m/prepare_data.py", "train_edges.txt"),
    "ml100k": ("examples/ml100k/prepare_data.py", "items.txt"),
    "aliccp_sample": ("examples/aliccp/prepare_data.py", "test.parquet"),
    "taobao_easyrec": ("examples/taobao/prepare_data.py", "test.parquet"),
}
ML100K_FOLDS = ["u1", "u2", "u3", "u4", "u5"]
TRAIN_SECONDS = "train_seconds.txt"


def log(msg: str) -> None:
    """Progress line to stderr."""
    print(f"[quality {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(args: list[str], log_path: Path) -> None:
    """Run a command from the repository root, output to `log_path`; raise on failure."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    with open(log_path, "a") as out:
        out.write("$ " + " ".join(args) + "\n")
        out.flush()
        result = subprocess.run(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} ... failed (exit {result.returncode}); see {log_path}")


def rec(module: str, *args: str, log_path: Path) -> None:
    """Run a rec CLI module with this interpreter."""
    run([sys.executable, "-m", module, *args], log_path)


def prepare(dataset: str, data_root: Path, work: Path, log_path: Path) -> Path:
    """Convert a data set once into work/<dataset>; returns that directory."""
    out = work / dataset
    script, last = PREPARE[dataset]
    if (out / last).exists():
        return out
    log(f"preparing {dataset} -> {out}")
    run([sys.executable, script, "--data_dir", str(data_root / dataset), "--output_dir", str(out)], log_path)
    return out


def read_jsonl(path: Path) -> list[dict[str, float]]:
    """Rows of a JSON-lines result file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def train(
    spec: Spec, data: Path, model_dir: Path, seed: int, log_path: Path, eval_split: str | None, resume: bool,
    edits: dict[str, Any] | None = None,
) -> float | None:
    """rec-train into a fresh model_dir, or keep the model there if `resume`; the seconds it took to
    train (None for a model trained without this script)."""
    # kept with the model, so that --resume reports how long the scored model took to train
    record = model_dir / TRAIN_SECONDS
    if not resume:
        shutil.rmtree(model_dir, ignore_errors=True)
        args = ["--pipeline_config_path", spec.config, "--model_dir", str(model_dir), "--seed", str(seed)]
        args += ["--train_input_path", str(data / "train.parquet")]
        if edits:
            args += ["--edit_config_json", json.dumps(edits)]
        if eval_split:
            args += ["--eval_input_path", str(data / f"{eval_split}.parquet")]
        start = time.time()
        rec("rec_dist.cli.train", *args, log_path=log_path)
        record.write_text(f"{time.time() - start:.1f}\n")
    return float(record.read_text()) if record.exists() else None


def ranking(name: str, spec: Spec, data: Path, work: Path, seed: int, log_path: Path, resume: bool) -> dict[str, Any]:
    """Train with per-epoch valid evaluation (unless `resume`), score the best-valid checkpoint on test."""
    model_dir = work / "models" / name
    seconds = train(spec, data, model_dir, seed, log_path, "valid", resume)
    history = read_jsonl(model_dir / "train_eval_result_v2.txt")
    best = max(history, key=lambda r: r["auc"])
    rec(
        "rec_dist.cli.eval",
        "--pipeline_config_path", str(model_dir / "pipeline.config"),
        "--checkpoint_path", str(model_dir / f"model.ckpt-{best['global_step']}"),
        "--eval_input_path", str(data / "test.parquet"),
        "--eval_result_filename", "eval_test.txt",
        log_path=log_path,
    )  # fmt: skip
    test = read_jsonl(model_dir / "eval_test.txt")[-1]
    steps_per_epoch = history[0]["global_step"]
    return {
        "test": {k: test[m] for k, m in RANKING_METRICS.items()},
        "valid": {k: best[m] for k, m in RANKING_METRICS.items()},
        "best_epoch": best["global_step"] // steps_per_epoch,
        "epochs": len(history),
        "train_seconds": seconds,
    }


def matching(name: str, spec: Spec, data: Path, work: Path, seed: int, log_path: Path, resume: bool) -> dict[str, Any]:
    """Train the two-tower model (unless `resume`), then full-corpus Recall/NDCG@20 on the test users."""
    model_dir = work / "models" / name
    edits = {"data_config.negative_sampler.input_path": str(data / "items.txt")}
    seconds = train(spec, data, model_dir, seed, log_path, None, resume, edits)
    test = evaluate_retrieval(model_dir, data, k=20, log_path=log_path)
    return {"test": test, "train_seconds": seconds}


def bias_baseline(train: Path, test: Path, reg_u: float = 15.0, reg_i: float = 10.0, epochs: int = 10) -> dict[str, float]:
    """RMSE / MAE of Surprise's BaselineOnly (mean + user and item biases, ALS, its defaults) on one fold.

    The same algorithm on a random 5-fold split of u.data gives Surprise's published 0.944 / 0.748."""
    u, i, r = (pq.read_table(train).column(c).to_numpy() for c in ("user_id", "item_id", "rating"))
    tu, ti, tr = (pq.read_table(test).column(c).to_numpy() for c in ("user_id", "item_id", "rating"))
    users, items = int(max(u.max(), tu.max())) + 1, int(max(i.max(), ti.max())) + 1
    mu, bu = r.mean(), np.zeros(users)
    for _ in range(epochs):  # items first, then users, as Surprise's baseline_als
        bi = np.bincount(i, r - mu - bu[u], items) / (reg_i + np.bincount(i, minlength=items))
        bu = np.bincount(u, r - mu - bi[i], users) / (reg_u + np.bincount(u, minlength=users))
    err = np.clip(mu + bu[tu] + bi[ti], r.min(), r.max()) - tr
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err)))}


def rating(name: str, spec: Spec, data: Path, work: Path, seed: int, log_path: Path, resume: bool) -> dict[str, Any]:
    """Train on each fold's base ratings (fixed epochs), score its test ratings; RMSE / MAE averaged over folds."""
    folds = {}
    for fold in ML100K_FOLDS:
        model_dir = work / "models" / name / fold
        seconds = train(spec, data / fold, model_dir, seed, log_path, "test", resume)
        final = read_jsonl(model_dir / "train_eval_result_v2.txt")[-1]
        folds[fold] = {
            "rmse": float(np.sqrt(final["mean_squared_error"])),
            "mae": final["mean_absolute_error"],
            "train_seconds": seconds,
            "bias_baseline": bias_baseline(data / fold / "train.parquet", data / fold / "test.parquet"),
        }
    mean = {m: float(np.mean([f[m] for f in folds.values()])) for m in ("rmse", "mae")}
    baseline = {m: float(np.mean([f["bias_baseline"][m] for f in folds.values()])) for m in ("rmse", "mae")}
    seconds = [f["train_seconds"] for f in folds.values()]
    total = None if None in seconds else round(sum(seconds), 1)
    return {"test": mean, "bias_baseline_same_folds": baseline, "folds": folds, "train_seconds": total}


def feature_retrieval(name: str, spec: Spec, data: Path, work: Path, seed: int, log_path: Path, resume: bool) -> dict[str, Any]:
    """Train the two-tower model on fold u1, then full-corpus Recall/NDCG@20 on its test ratings."""
    model_dir = work / "models" / name
    fold = data / "u1"
    edits = {"data_config.negative_sampler.input_path": str(data / "items.txt")}
    seconds = train(spec, fold, model_dir, seed, log_path, None, resume, edits)
    users, items = pq.read_table(data / "users.parquet"), pq.read_table(data / "items.parquet")
    user_emb, item_emb = tower_embeddings(model_dir, users, items, log_path)
    rated, held_out = (pq.read_table(fold / f"{s}.parquet", columns=["user_id", "item_id"]) for s in ("train", "test"))
    train_i = rated.column("item_id").to_numpy()
    seen = by_user(rated.column("user_id").to_numpy(), train_i, users.num_rows)
    truth = by_user(held_out.column("user_id").to_numpy(), held_out.column("item_id").to_numpy(), users.num_rows)
    scores = recall_ndcg(user_emb @ item_emb.T, seen, truth, k=20)
    # no published figure: the most-popular ranking (training counts as scores) is the yardstick
    popularity = np.tile(np.bincount(train_i, minlength=items.num_rows).astype(np.float32), (users.num_rows, 1))
    return {
        "test": scores,
        "most_popular": recall_ndcg(popularity, seen, truth, k=20),
        "fold": "u1",
        "train_seconds": seconds,
    }


def multitask(name: str, spec: Spec, data: Path, work: Path, seed: int, log_path: Path, resume: bool) -> dict[str, Any]:
    """Train for the config's fixed epochs with test.parquet as eval data; the last evaluation's metrics."""
    model_dir = work / "models" / name
    seconds = train(spec, data, model_dir, seed, log_path, "test", resume)
    final = read_jsonl(model_dir / "train_eval_result_v2.txt")[-1]
    return {"test": {k: v for k, v in final.items() if k != "global_step"}, "train_seconds": seconds}


TASKS = {"rating": rating, "feature_retrieval": feature_retrieval, "multitask": multitask}


def hardware() -> str:
    """CPU model and core count of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table: model, data set, metric, rec, published, delta."""
    lines = ["| model | data set | metric | rec | published | delta |", "| --- | --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | {SPECS[name].dataset} | – | failed: {r['error']} | | |")
            continue
        if not SPECS[name].reference:  # no published figure: every metric, without one
            lines += [f"| {name} | {SPECS[name].dataset} | {m} | {v:.4f} | – | |" for m, v in r["test"].items() if isinstance(v, float)]
            continue
        for metric, ref in SPECS[name].reference.items():
            got = r["test"][metric]
            lines.append(f"| {name} | {SPECS[name].dataset} | {metric} | {got:.4f} | {ref:.4f} | {got - ref:+.4f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(SPECS), help=f"comma list of {', '.join(SPECS)}")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/quality.json"))
    p.add_argument("--work_dir", default="/tmp/rec_quality", help="converted data, model dirs and logs")
    p.add_argument("--data_root", default=str(ROOT.parent / "shared/data"))
    p.add_argument("--seed", type=int, default=2021)
    p.add_argument("--resume", action="store_true", help="do not train: score the models already in --work_dir (with the training seconds recorded beside them)")
    args = p.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SPECS))
    if not names or unknown:
        p.error(f"unknown --models {unknown}; choose from {list(SPECS)}")
    work = Path(args.work_dir)
    (work / "logs").mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    results: dict[str, dict[str, Any]] = {}  # this run's
    for name in names:
        spec = SPECS[name]
        log_path = work / "logs" / f"{name}.log"
        if not args.resume:
            log_path.unlink(missing_ok=True)
        log(f"{name}: {spec.config} on {spec.dataset} (log {log_path})")
        try:
            data = prepare(spec.dataset, Path(args.data_root), work, log_path)
            evaluate = matching if spec.dataset == "ml1m_lcfn" else ranking
            evaluate = TASKS[spec.extra["task"]] if "task" in spec.extra else evaluate
            results[name] = evaluate(name, spec, data, work, args.seed, log_path, args.resume)
        except (RuntimeError, subprocess.CalledProcessError, OSError, ValueError, KeyError) as e:
            results[name] = {"error": str(e)}
        log(f"{name}: {json.dumps(results[name])}")
        # re-read: results of models not run here are kept, so models can run one at a time
        report = json.loads(out.read_text()) if out.exists() else {"results": {}}
        report["results"][name] = {
            **results[name],
            "config": spec.config,
            "dataset": spec.dataset,
            "reference": spec.reference,
            "reference_source": spec.source,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "seed": args.seed,
            # per model: models run one at a time may run on different machines
            "hardware": hardware(),
            "python": platform.python_version(),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {out}")
    print(table(report["results"]))


if __name__ == "__main__":
    main()

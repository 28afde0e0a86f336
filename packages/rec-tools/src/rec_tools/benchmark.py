"""`rec-tools benchmark`: train each pipeline config run_cnt times, average the final eval
metrics, compare them with a baseline, and write the report as text and JSON.

The baseline file maps a config's name (its file name without the ending) to metrics:
`{"deepfm": {"auc": {"value": 0.71, "threshold": 0.005}, "binary_cross_entropy": 0.45}}`.
A metric within ±threshold of its baseline is `equal`, otherwise `better` or `worse` (lower
is better for losses and errors). A run that fails is reported and makes the command fail.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from rec_core.errors import ConfigError
from rec_core.fs import atomic_write
from rec_core.logging_utils import get_logger

logger = get_logger(__name__)

RESULT_FILE = "train_eval_result_v2.txt"  # written by rec-train into model_dir
REPORT_TEXT = "benchmark_eval.txt"
REPORT_JSON = "benchmark_eval.json"
CONFIG_ENDINGS = (".config", ".json")
_LOWER_IS_BETTER = ("loss", "cross_entropy", "error", "mse", "mae")


def lower_is_better(metric: str) -> bool:
    """Losses and errors improve downwards; AUC, recall and accuracy upwards."""
    return any(word in metric for word in _LOWER_IS_BETTER)


def config_paths(path: str) -> list[str]:
    """The config itself, or the .config/.json files of a directory (sorted)."""
    if os.path.isdir(path):
        found = sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(CONFIG_ENDINGS))
        if not found:
            raise ConfigError("--pipeline_config_path", f"directory {path!r} holds no .config or .json files")
        return found
    if not os.path.isfile(path):
        raise ConfigError("--pipeline_config_path", f"{path!r} does not exist")
    return [path]


def config_name(path: str) -> str:
    """A config's name in the baseline and the report: its file name without the ending."""
    return os.path.splitext(os.path.basename(path))[0]


def load_baseline(path: str | None) -> dict[str, dict[str, tuple[float, float]]]:
    """{config: {metric: (value, threshold)}}; a bare number means threshold 0."""
    if not path:
        return {}
    try:
        with open(path) as f:
            raw = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError("--base_metric_path", f"cannot read {path!r}: {e}") from e
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for name, metrics in raw.items():
        if not isinstance(metrics, dict):
            raise ConfigError(f"--base_metric_path {name}", f"expected an object of metrics, got {metrics!r}")
        out[name] = {}
        for metric, spec in metrics.items():
            where = f"--base_metric_path {name}.{metric}"
            if isinstance(spec, (int, float)):
                out[name][metric] = (float(spec), 0.0)
            elif isinstance(spec, dict) and isinstance(spec.get("value"), (int, float)):
                out[name][metric] = (float(spec["value"]), float(spec.get("threshold", 0.0)))
            else:
                raise ConfigError(where, f'expected a number or {{"value": x, "threshold": t}}, got {spec!r}')
    return out


def compare(metric: str, value: float, base: float, threshold: float) -> str:
    """equal / better / worse of a measured value against its baseline."""
    diff = value - base
    if abs(diff) <= threshold:
        return "equal"
    return "better" if (diff < 0) == lower_is_better(metric) else "worse"


@dataclass
class ConfigResult:
    """The runs of one config and their aggregate."""

    name: str
    path: str
    runs: list[dict[str, Any]] = field(default_factory=list)

    def mean(self) -> dict[str, float]:
        """Mean of every metric over the successful runs."""
        ok = [r["metrics"] for r in self.runs if r["ok"]]
        keys = sorted({k for m in ok for k in m})
        return {k: statistics.fmean(m[k] for m in ok if k in m) for k in keys}

    def stdev(self) -> dict[str, float]:
        """Sample standard deviation per metric (0 with fewer than two runs)."""
        ok = [r["metrics"] for r in self.runs if r["ok"]]
        return {k: statistics.stdev([m[k] for m in ok if k in m]) if sum(k in m for m in ok) > 1 else 0.0 for k in self.mean()}


def _command(args: argparse.Namespace, config: str, model_dir: str) -> list[str]:
    train = ["--pipeline_config_path", config, "--model_dir", model_dir]
    for key in ("train_input_path", "eval_input_path", "edit_config_json"):
        if getattr(args, key):
            train += [f"--{key}", getattr(args, key)]
    if args.nproc_per_node > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.nproc_per_node}"]
        return launcher + ["-m", "rec_dist.cli.train", *train]
    return [sys.executable, "-m", "rec_dist.cli.train", *train]


def run_once(args: argparse.Namespace, config: str, run_dir: str) -> dict[str, Any]:
    """Train one config into run_dir; {ok, metrics, log, error}."""
    os.makedirs(run_dir, exist_ok=True)
    log = os.path.join(run_dir, "train.log")
    with open(log, "w") as f:
        try:
            code = subprocess.run(_command(args, config, os.path.join(run_dir, "model")), stdout=f, stderr=subprocess.STDOUT, timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            return {"ok": False, "metrics": {}, "log": log, "error": f"timed out after {args.timeout}s"}
    results = os.path.join(run_dir, "model", RESULT_FILE)
    if code != 0 or not os.path.isfile(results):
        with open(log) as f:
            lines = [line.strip() for line in f if line.strip()]
        # rec CLIs print one `error: ...` line; a crash ends with the exception
        reason = next((line for line in lines if line.startswith("error:")), lines[-1] if lines else "no output")
        return {"ok": False, "metrics": {}, "log": log, "error": f"rec-train exited {code}: {reason}"}
    with open(results) as f:
        final = json.loads([line for line in f if line.strip()][-1])
    final.pop("global_step", None)
    return {"ok": True, "metrics": {k: float(v) for k, v in final.items()}, "log": log, "error": ""}


def report(results: list[ConfigResult], baseline: dict[str, dict[str, tuple[float, float]]]) -> tuple[str, dict[str, Any]]:
    """The report as text and as a JSON-ready dict."""
    lines = []
    doc: dict[str, Any] = {"configs": {}}
    for r in results:
        mean, stdev, base = r.mean(), r.stdev(), baseline.get(r.name, {})
        ok = sum(run["ok"] for run in r.runs)
        lines.append(f"== {r.name} ({r.path}): {ok}/{len(r.runs)} run(s) succeeded")
        for run in r.runs:
            if not run["ok"]:
                lines.append(f"   failed: {run['error']} (log: {run['log']})")
        entry: dict[str, Any] = {"path": r.path, "runs": r.runs, "metrics": {}}
        for metric in sorted(set(mean) | set(base)):
            row: dict[str, Any] = {"mean": mean.get(metric), "stdev": stdev.get(metric)}
            text = f"   {metric:<32}"
            text += f" {mean[metric]:.6f} ± {stdev[metric]:.6f}" if metric in mean else f" {'(not measured)':>21}"
            if metric in base:
                value, threshold = base[metric]
                row.update(base=value, threshold=threshold)
                row["result"] = compare(metric, mean[metric], value, threshold) if metric in mean else "missing"
                text += f"  base {value:.6f} ± {threshold:g}: {row['result']}"
            entry["metrics"][metric] = row
            lines.append(text)
        doc["configs"][r.name] = entry
    counts = {k: sum(m.get("result") == k for e in doc["configs"].values() for m in e["metrics"].values()) for k in ("better", "equal", "worse", "missing")}
    failed = sum(not run["ok"] for r in results for run in r.runs)
    doc["summary"] = {**counts, "failed_runs": failed}
    lines.append("summary: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f", failed runs {failed}")
    return "\n".join(lines) + "\n", doc


def benchmark(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Run everything, write the report files, return them."""
    if args.run_cnt <= 0:
        raise ConfigError("--run_cnt", f"must be positive, got {args.run_cnt}")
    if args.edit_config_json:
        try:
            json.loads(args.edit_config_json)
        except json.JSONDecodeError as e:
            raise ConfigError("--edit_config_json", f"not valid JSON: {e}") from e
    configs = config_paths(args.pipeline_config_path)
    names = [config_name(p) for p in configs]
    if len(set(names)) != len(names):
        raise ConfigError("--pipeline_config_path", f"config names repeat: {names}")
    baseline = load_baseline(args.base_metric_path)
    unknown = sorted(set(baseline) - set(names))
    if unknown:
        logger.warning("baseline entries without a config: %s", unknown)
    results = []
    for path, name in zip(configs, names):
        result = ConfigResult(name, path)
        for i in range(args.run_cnt):
            logger.info("benchmark %s: run %d/%d", name, i + 1, args.run_cnt)
            result.runs.append(run_once(args, path, os.path.join(args.experiment_path, name, f"run_{i}")))
        results.append(result)
    text, doc = report(results, baseline)
    os.makedirs(args.experiment_path, exist_ok=True)
    with atomic_write(os.path.join(args.experiment_path, REPORT_TEXT)) as f:
        f.write(text)
    with atomic_write(os.path.join(args.experiment_path, REPORT_JSON)) as f:
        json.dump(doc, f, indent=1)
    return text, doc


def run(args: argparse.Namespace) -> int:
    """`rec-tools benchmark`: exits 1 when a run failed."""
    text, doc = benchmark(args)
    print(text, end="")
    return 1 if doc["summary"]["failed_runs"] else 0

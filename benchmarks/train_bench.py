"""Training benchmark: samples/s and peak memory of DeepFM and DLRM on Criteo-schema data.

    uv run python benchmarks/train_bench.py                    # 1M rows, DeepFM + DLRM, 2 rounds (~13 min)
    uv run python benchmarks/train_bench.py --rows 200000 --repeat 1 --models deepfm   # quick look

Data: `rec-data synth` of benchmarks/configs/criteo_train_deepfm.config (13 dense columns
I1..I13, 26 categorical ids C1..C26 with Criteo Kaggle cardinalities capped at 1M, FG_NONE:
columns already encoded), --rows rows, cached under --data_dir. Batch 4096 (per process).

Rows of the table, per model, each measured in its own process, the rounds interleaved
(round 1: every row, round 2: every row, ...) and the median over rounds reported:

- DeepCTR-Torch (DeepFM only): benchmarks/train_baselines/deepctr_deepfm.py in its own
  virtual environment (--deepctr_venv; created with uv on first use), pre-loaded tensors.
- TorchRec hand-written: benchmarks/train_baselines/torchrec_deepfm.py, the same model written
  on TorchRec alone (EBC on meta + apply_optimizer_in_backward(Adagrad) + planner + DMP; dense
  Adam), pre-loaded tensors. The baseline of the `vs TorchRec` column. Also, under torchrun,
  its 2-process form, and (only with --skip '') its FusedEmbeddingBagCollection variant (no DMP).
- rec step only: rec's own training pieces (rec_dist.setup.build_features/build_model,
  sharding.shard_model, optimizers.build_optimizer, step.StepOptimizer + RecTrainPipeline, the
  LR schedulers) stepping over Batches that rec's FeatureParser made beforehand: the step
  without the input pipeline.
- rec end-to-end 1 proc: `python -m rec_dist.cli.train` reading the Parquet file through rec's
  loader (DataLoader workers per data_config.num_workers).
- rec end-to-end 2 procs: `torchrun --standalone --nproc-per-node 2 -m rec_dist.cli.train`
  (gloo, table-wise/data-parallel sharding by TorchRec's planner, one thread per process).

samples/s: pre-loaded rows time --windows windows of --steps steps after --warmup steps (median
window); end-to-end rows take the progress log's per-interval rates (log every 10 steps) after
the first --e2e_skip steps (total samples / total time of those intervals), and the run is
stopped once --e2e_steps steps are logged (so no final checkpoint is written). 2-process
figures count the samples of both processes. `vs TorchRec`: samples/s over the hand-written
baseline's in the same round, median over rounds. cpu ms/1k: CPU time (user + system, all
threads) per 1000 samples in the timed windows (end to end: of every process of the run, read
from /proc at the progress lines), which the load of a shared machine disturbs far less than
wall time; `by CPU` = baseline cpu ms/1k / this row's (above 1: cheaper than the baseline).
Memory: every process of the run is sampled every 0.25 s from /proc: `peak RSS` is the largest
single process's VmHWM, `peak PSS` the peak of the PSS summed over all its processes
(DataLoader workers, ranks, the torchrun launcher).

Threads: one process runs --threads torch/OpenMP threads (default 2), each of 2 processes one.
OMP_WAIT_POLICY is set to --omp_wait_policy (default PASSIVE) in every child: on a machine shared
with other work, the default spinning OpenMP barrier makes 2-thread steps several times slower
and erratic (FBGEMM's CPU embedding backward above all); give "" to keep the default.
--bf16 trains rec with train_config.mixed_precision "BF16" and the TorchRec baseline under the
same torch.autocast(bfloat16) (DeepCTR-Torch stays float32); --edit_config_json edits the rec
configs further (e.g. data_config.num_workers). Results print as a table and go to --output as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "deepfm": ROOT / "benchmarks/configs/criteo_train_deepfm.config",
    "dlrm": ROOT / "benchmarks/configs/criteo_train_dlrm.config",
}
BASELINES = ROOT / "benchmarks/train_baselines"
DEEPCTR_REQUIREMENTS = ["deepctr-torch", "torch==2.13.0", "pyarrow", "requests", "pip"]
MAX_BATCHES = 32  # distinct pre-loaded batches, cycled
PROGRESS = re.compile(r"train step=(\d+)\S* .*?samples/s=([0-9.]+)")


# ----------------------------------------------------------------------------------------
# Memory of a process tree, from /proc.
class TreeMemory(threading.Thread):
    """Samples VmHWM / PSS of `root` and all its descendants until stopped."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.hwm_kb: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.peak_pss_kb = 0
        self._stop_event = threading.Event()

    @staticmethod
    def _field(path: str, name: str) -> int:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(name):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
        out, stack = [], [self.root]
        while stack:
            pid = stack.pop()
            out.append(pid)
            stack.extend(children.get(pid, []))
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU time of the live processes of the tree (their threads included)."""
        ticks = 0
        for pid in self._tree():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, ValueError, IndexError):
                continue
        return ticks / os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        pss = 0
        for pid in self._tree():
            hwm = self._field(f"/proc/{pid}/status", "VmHWM:")
            if hwm:
                self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), hwm)
                if pid not in self.names:
                    try:
                        self.names[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
                    except OSError:
                        pass
            pss += self._field(f"/proc/{pid}/smaps_rollup", "Pss:")
        self.peak_pss_kb = max(self.peak_pss_kb, pss)

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> dict[str, Any]:
        self._stop_event.set()
        self.join()
        hwm = sorted(self.hwm_kb.values(), reverse=True)
        largest = max(self.hwm_kb, key=self.hwm_kb.__getitem__) if self.hwm_kb else None
        return {
            "peak_rss_mb": hwm[0] / 1024 if hwm else None,
            "largest_process": self.names.get(largest, "") if largest is not None else "",
            "sum_hwm_mb": sum(hwm) / 1024,
            "peak_pss_mb": self.peak_pss_kb / 1024,
            "processes": len(hwm),
        }


def _child_env(threads: int, omp_wait_policy: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    if omp_wait_policy:
        env["OMP_WAIT_POLICY"] = omp_wait_policy
    else:
        env.pop("OMP_WAIT_POLICY", None)
    return env


def run_child(cmd: list[str], env: dict[str, str], timeout: float, stop_at_step: int | None = None) -> dict[str, Any]:
    """Run `cmd` (own process group), watching its memory; stop it once `stop_at_step` is logged."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    mem = TreeMemory(proc.pid)
    mem.start()
    lines: list[str] = []
    marks: list[tuple[int, float, float]] = []  # (step, time, CPU seconds of the tree) at each progress line
    stopped = False

    def kill() -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the group of the child started here, nothing else
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        m = PROGRESS.search(line)
        if m:
            marks.append((int(m.group(1)), time.perf_counter(), mem.cpu_seconds()))
        if stop_at_step is not None and m and int(m.group(1)) >= stop_at_step and not stopped:
            mem.sample()
            stopped = True
            kill()
    proc.wait()
    timer.cancel()
    out = mem.stop()
    out.update(returncode=proc.returncode, stopped=stopped, marks=marks, wall_s=time.perf_counter() - start, output="".join(lines))
    return out


def _last_json(output: str) -> dict[str, Any] | None:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


# ----------------------------------------------------------------------------------------
# rec's step alone, in a child process (`--_rec_step SPEC`).
def _rec_step_child(spec: dict[str, Any]) -> dict[str, Any]:
    import itertools
    import resource

    import pyarrow.parquet as pq
    import torch

    from rec_dist.optimizers import build_optimizer
    from rec_dist.process_group import init_process_group
    from rec_dist.setup import build_features, build_model, prepare_config
    from rec_dist.sharding import shard_model
    from rec_dist.step import RecTrainPipeline, StepOptimizer, autocast_dtype, create_grad_scaler
    from rec_models.optim import sparse_optimizer_spec
    from rec_models.wrappers import TrainWrapper

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    edits = {**spec.get("edits", {}), "data_config.batch_size": spec["batch_size"]}
    config = prepare_config(spec["config"], json.dumps(edits), for_training=True, train_input_path=spec["data"])
    tc, data = config.train_config, config.data_config
    device, _, world = init_process_group()
    features, parser = build_features(config)
    batches, parse_s = [], 0.0
    for rb in pq.ParquetFile(spec["data"]).iter_batches(batch_size=data.batch_size, columns=parser.input_columns()):
        if rb.num_rows < data.batch_size or len(batches) >= spec["max_batches"]:
            break
        t = time.perf_counter()
        batches.append(parser(rb))
        parse_s += time.perf_counter() - t
    model = build_model(config, features, device=torch.device("meta"))
    wrapped = shard_model(TrainWrapper(model), device, data.batch_size, sparse_optimizer_spec(tc.sparse_optimizer),
                          tc.global_embedding_constraints if tc.HasField("global_embedding_constraints") else None)
    optimizer, schedulers = build_optimizer(wrapped, tc)
    step_optimizer = StepOptimizer(optimizer, wrapped, tc.gradient_accumulation_steps, create_grad_scaler(tc, device),
                                   tc.grad_clipping if tc.HasField("grad_clipping") else None)
    dtype = autocast_dtype(tc.mixed_precision, "train_config.mixed_precision")

    def forward(batch: Any) -> Any:  # as rec_dist.train_eval.Trainer._forward
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return wrapped(batch)

    pipeline = RecTrainPipeline(wrapped, step_optimizer, device, forward)
    wrapped.train()
    stream = (batches[i % len(batches)] for i in itertools.count())

    def step() -> float:
        losses, _ = pipeline.progress(stream)
        for s in schedulers:
            if not s.by_epoch:
                s.step()
        return float(sum(v for v in losses.values()))

    for _ in range(spec["warmup"]):
        step()
    rates, cpus, losses = [], [], []
    for _ in range(spec["windows"]):
        t, c = time.perf_counter(), cpu()
        for _ in range(spec["steps"]):
            losses.append(step())
        rates.append(world * spec["steps"] * data.batch_size / (time.perf_counter() - t))
        cpus.append((cpu() - c) / (spec["steps"] * data.batch_size) * 1e6)
    out = {
        "impl": "rec-step", "batch_size": data.batch_size, "threads": torch.get_num_threads(),
        "distinct_batches": len(batches), "parse_ms_per_batch": 1e3 * parse_s / max(len(batches), 1),
        "samples_per_s": statistics.median(rates), "window_samples_per_s": rates,
        "cpu_ms_per_1k_samples": statistics.median(cpus), "first_loss": losses[0], "last_loss": losses[-1],
    }
    if spec.get("profile"):
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(spec["steps"]):
                step()
        out["profile"] = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)
    return out


# ----------------------------------------------------------------------------------------
def synth(rows: int, data_dir: Path) -> Path:
    path = data_dir / f"criteo_train_{rows}.parquet"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.parquet")
        cmd = [sys.executable, "-m", "rec_data.cli", "synth", "--pipeline_config_path", str(CONFIGS["deepfm"]),
               "--num_rows", str(rows), "--output", str(tmp), "--seed", "1"]
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        tmp.rename(path)
    return path


def deepctr_python(venv: Path) -> Path:
    """The venv's python, creating the venv with uv when it is missing."""
    python = venv / "bin" / "python"
    ok = python.exists() and subprocess.run([str(python), "-c", "import deepctr_torch, pyarrow"],
                                            capture_output=True).returncode == 0
    if not ok:
        uv = shutil.which("uv")
        if uv is None:
            raise RuntimeError("uv is not on PATH; create the DeepCTR venv by hand (see deepctr_deepfm.py)")
        print(f"creating {venv} (DeepCTR-Torch, torch 2.13) ...", flush=True)
        subprocess.run([uv, "venv", str(venv), "--python", platform.python_version()], check=True, capture_output=True)
        subprocess.run([uv, "pip", "install", "--python", str(python), *DEEPCTR_REQUIREMENTS], check=True, capture_output=True)
    return python


def steady_rate(output: str, marks: list[tuple[int, float, float]], batch: int, world: int, log_every: int,
                skip: int) -> dict[str, Any]:
    """Rate over the logged intervals after `skip` steps; CPU per sample of the whole process tree."""
    reports = [(int(s), float(r)) for s, r in PROGRESS.findall(output)]
    kept = [(s, r) for s, r in reports if s - log_every >= skip and r > 0]
    if not kept:
        return {"samples_per_s": None, "reports": reports}
    samples = log_every * batch * world
    seconds = sum(samples / r for _, r in kept)
    out: dict[str, Any] = {"samples_per_s": samples * len(kept) / seconds, "window_samples_per_s": [r for _, r in kept],
                           "reports": reports}
    at = {s: (t, c) for s, t, c in marks}
    first, last = kept[0][0] - log_every, kept[-1][0]
    if first in at and last in at:
        # includes DataLoader workers and, with torchrun, both ranks and the launcher
        out["cpu_ms_per_1k_samples"] = (at[last][1] - at[first][1]) / ((last - first) * batch * world) * 1e6
    return out


class Bench:
    def __init__(self, args: argparse.Namespace, data: Path, workdir: Path) -> None:
        self.args, self.data, self.workdir = args, data, workdir
        self.run_id = 0

    def _pre_loaded(self, cmd: list[str], threads: int) -> dict[str, Any]:
        r = run_child(cmd, _child_env(threads, self.args.omp_wait_policy), self.args.timeout)
        result = _last_json(r["output"])
        if r["returncode"] != 0 or result is None:
            return {"error": r["output"][-3000:]}
        return {**result, **{k: r[k] for k in ("peak_rss_mb", "largest_process", "sum_hwm_mb", "peak_pss_mb", "processes", "wall_s")}}

    def deepctr(self, model: str) -> dict[str, Any]:
        a = self.args
        python = deepctr_python(Path(a.deepctr_venv))
        return self._pre_loaded([str(python), str(BASELINES / "deepctr_deepfm.py"), "--data", str(self.data),
                                 "--batch_size", str(a.batch_size), "--threads", str(a.threads), "--warmup", "2",
                                 "--max_batches", str(MAX_BATCHES),
                                 "--steps", str(a.deepctr_steps), "--windows", str(a.windows)], a.threads)

    def torchrec(self, model: str, embedding: str = "dmp", nproc: int = 1) -> dict[str, Any]:
        a = self.args
        script = [str(BASELINES / "torchrec_deepfm.py"), "--data", str(self.data), "--model", model,
                  "--embedding", embedding, "--batch_size", str(a.batch_size), "--warmup", str(a.warmup),
                  "--steps", str(a.steps), "--windows", str(a.windows), "--max_batches", str(MAX_BATCHES)]
        if a.bf16:
            script.append("--bf16")
        if nproc == 1:
            return self._pre_loaded([sys.executable, *script], a.threads)
        return self._pre_loaded([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                 f"--nproc-per-node={nproc}", *script], 1)

    def rec_step(self, model: str) -> dict[str, Any]:
        a = self.args
        spec = {"config": str(CONFIGS[model]), "data": str(self.data), "batch_size": a.batch_size, "max_batches": MAX_BATCHES,
                "warmup": a.warmup, "steps": a.steps, "windows": a.windows, "profile": a.profile,
                "edits": json.loads(a.edit_config_json)}
        return self._pre_loaded([sys.executable, str(Path(__file__).resolve()), "--_rec_step", json.dumps(spec)], a.threads)

    def rec_e2e(self, model: str, nproc: int) -> dict[str, Any]:
        a = self.args
        self.run_id += 1
        log_every = 10
        edits = {
            **json.loads(a.edit_config_json),
            "train_input_path": str(self.data), "eval_input_path": "",
            "model_dir": str(self.workdir / f"run{self.run_id}_{model}_{nproc}"),
            "train_config.num_steps": a.e2e_steps + 10 * log_every,
            "train_config.log_step_count_steps": log_every, "train_config.save_checkpoints_steps": 10**9,
            "data_config.batch_size": a.batch_size,
        }
        if a.num_workers is not None:
            edits["data_config.num_workers"] = a.num_workers
        train = ["-m", "rec_dist.cli.train", "--pipeline_config_path", str(CONFIGS[model]),
                 "--edit_config_json", json.dumps(edits)]
        if nproc == 1:
            cmd, threads = [sys.executable, *train], a.threads
        else:
            cmd, threads = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *train], 1
        r = run_child(cmd, _child_env(threads, a.omp_wait_policy), a.timeout, stop_at_step=a.e2e_steps)
        shutil.rmtree(edits["model_dir"], ignore_errors=True)
        if not r["stopped"]:
            return {"error": r["output"][-3000:]}
        rate = steady_rate(r["output"], r["marks"], a.batch_size, nproc, log_every, a.e2e_skip)
        return {**rate, "threads": threads, "nproc": nproc, "num_workers": a.num_workers,
                **{k: r[k] for k in ("peak_rss_mb", "largest_process", "sum_hwm_mb", "peak_pss_mb", "processes", "wall_s")}}


def _git_state() -> dict[str, str]:
    def git(*cmd: str) -> str:
        out = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD"), "packages_changed": git("status", "--porcelain", "--", "packages")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of synthetic data")
    p.add_argument("--models", default="deepfm,dlrm")
    p.add_argument("--batch_size", type=int, default=4096)
    p.add_argument("--repeat", type=int, default=2, help="rounds; every figure is the median over rounds")
    p.add_argument("--threads", type=int, default=2, help="threads of a one-process run")
    p.add_argument("--warmup", type=int, default=4, help="untimed steps of pre-loaded runs")
    p.add_argument("--steps", type=int, default=8, help="steps per timed window of pre-loaded runs")
    p.add_argument("--windows", type=int, default=3, help="timed windows per pre-loaded run (median)")
    p.add_argument("--deepctr_steps", type=int, default=4, help="steps per timed window of DeepCTR-Torch")
    p.add_argument("--e2e_steps", type=int, default=50, help="steps of an end-to-end run")
    p.add_argument("--e2e_skip", type=int, default=20, help="warm-up steps left out of end-to-end rates")
    p.add_argument("--num_workers", type=int, default=None, help="override data_config.num_workers (end to end)")
    p.add_argument("--omp_wait_policy", default="PASSIVE")
    p.add_argument("--bf16", action="store_true",
                   help="bfloat16 autocast: rec's train_config.mixed_precision BF16 and the TorchRec baseline's --bf16")
    p.add_argument("--edit_config_json", default="{}",
                   help='config edits for the rec rows, e.g. {"train_config.mixed_precision": "BF16"}')
    p.add_argument("--skip", default="fused", help="comma list of rows to leave out (deepctr,torchrec,fused,step,e2e1,torchrec2,e2e2); "
                   "default: fused (give --skip '' for every row)")
    p.add_argument("--deepctr_venv", default=str(Path(tempfile.gettempdir()) / "deepctr-venv"))
    p.add_argument("--data_dir", default=str(Path(tempfile.gettempdir()) / "rec_train_bench"))
    p.add_argument("--timeout", type=float, default=600, help="seconds before a child run is stopped")
    p.add_argument("--profile", action="store_true", help="add torch.profiler's top ops of rec's step to the JSON")
    p.add_argument("--output", default=str(ROOT / "benchmarks/results/train_bench.json"))
    p.add_argument("--_rec_step", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._rec_step:
        print(json.dumps(_rec_step_child(json.loads(args._rec_step))), flush=True)
        return

    if args.bf16:
        args.edit_config_json = json.dumps({**json.loads(args.edit_config_json), "train_config.mixed_precision": "BF16"})
    started = time.perf_counter()
    models = [m for m in args.models.split(",") if m]
    skip = set(args.skip.split(","))
    data = synth(args.rows, Path(args.data_dir))
    report: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
                    "loadavg_start": os.getloadavg()},
        "settings": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "git": _git_state(), "data": str(data), "rounds": [], "table": [],
    }
    rows: list[tuple[str, str, Any]] = []  # (model, label, thunk)
    with tempfile.TemporaryDirectory(prefix="rec_train_bench_") as tmp:
        bench = Bench(args, data, Path(tmp))
        for model in models:
            candidates = [
                ("deepctr", "DeepCTR-Torch", lambda m=model: bench.deepctr(m)),
                ("torchrec", "TorchRec hand-written", lambda m=model: bench.torchrec(m)),
                ("fused", "TorchRec FusedEBC, no DMP", lambda m=model: bench.torchrec(m, "fused")),
                ("step", "rec step only", lambda m=model: bench.rec_step(m)),
                ("e2e1", "rec end-to-end 1 proc", lambda m=model: bench.rec_e2e(m, 1)),
                ("torchrec2", "TorchRec hand-written 2 procs", lambda m=model: bench.torchrec(m, "dmp", 2)),
                ("e2e2", "rec end-to-end 2 procs", lambda m=model: bench.rec_e2e(m, 2)),
            ]
            for key, label, thunk in candidates:
                if key not in skip and not (key == "deepctr" and model != "deepfm"):
                    rows.append((model, label, thunk))
        for rnd in range(args.repeat):
            results = []
            for model, label, thunk in rows:
                r = thunk()
                r.update(model=model, row=label, round=rnd)
                results.append(r)
                rate = r.get("samples_per_s")
                print(f"round {rnd + 1}/{args.repeat} {model:<6} {label:<30} "
                      + (f"{rate:>9,.0f} samples/s" if rate else f"FAILED: {r.get('error', '')[-800:]}"), flush=True)
            report["rounds"].append(results)

    # median over rounds per row; ratio to the hand-written TorchRec baseline of the same model
    print()
    print(f"{'model':<6} {'implementation':<30} {'samples/s':>10} {'vs TorchRec':>11} {'cpu ms/1k':>9} {'by CPU':>6} "
          f"{'peak RSS MB':>11} {'peak PSS MB':>11}")
    for model, label, _ in rows:
        runs = [r for rnd in report["rounds"] for r in rnd if r["model"] == model and r["row"] == label]
        ok = [r for r in runs if r.get("samples_per_s")]
        base_runs = [r for rnd in report["rounds"] for r in rnd
                     if r["model"] == model and r["row"] == "TorchRec hand-written" and r.get("samples_per_s")]

        def med(key: str, rs: list[dict[str, Any]] = ok) -> float | None:
            vals = [r[key] for r in rs if r.get(key) is not None]
            return statistics.median(vals) if vals else None

        rate, base = med("samples_per_s"), med("samples_per_s", base_runs)
        cpu, base_cpu = med("cpu_ms_per_1k_samples"), med("cpu_ms_per_1k_samples", base_runs)
        # the ratio within each round (same machine load), then the median over rounds
        per_round = [r["samples_per_s"] / b["samples_per_s"] for r in ok for b in base_runs if b["round"] == r["round"]]
        row = {"model": model, "row": label, "samples_per_s": rate, "vs_torchrec": statistics.median(per_round) if per_round else None,
               "vs_torchrec_per_round": per_round, "cpu_ms_per_1k_samples": cpu,
               # throughput per CPU second relative to the baseline: base CPU per sample / this CPU per sample
               "vs_torchrec_by_cpu": base_cpu / cpu if cpu and base_cpu else None,
               "peak_rss_mb": med("peak_rss_mb"), "peak_pss_mb": med("peak_pss_mb"),
               "rounds_ok": len(ok), "rounds": len(runs), "baseline_samples_per_s": base}
        report["table"].append(row)

        def fmt(v: float | None, spec: str) -> str:
            return format(v, spec) if v is not None else "-"

        print(f"{model:<6} {label:<30} {fmt(rate, ',.0f'):>10} {fmt(row['vs_torchrec'], '.2f'):>11} "
              f"{fmt(row['cpu_ms_per_1k_samples'], '.1f'):>9} {fmt(row['vs_torchrec_by_cpu'], '.2f'):>6} "
              f"{fmt(row['peak_rss_mb'], ',.0f'):>11} "
              f"{fmt(row['peak_pss_mb'], ',.0f'):>11}")
    # the issue's goals
    for model in models:
        by_row = {r["row"]: r for r in report["table"] if r["model"] == model}
        step, e2e1, e2e2 = (by_row.get(k, {}) for k in ("rec step only", "rec end-to-end 1 proc", "rec end-to-end 2 procs"))
        base = by_row.get("TorchRec hand-written", {})
        if step.get("vs_torchrec") is not None and base:
            print(f"goal {model}: rec step / TorchRec = {step['vs_torchrec']:.2f} by samples/s, "
                  f"{step.get('vs_torchrec_by_cpu') or float('nan'):.2f} by CPU time (within 10%: >= 0.90)")
        for label, r in (("1 proc", e2e1), ("2 procs", e2e2)):
            if r.get("samples_per_s"):
                print(f"goal {model}: rec end to end from Parquet, {label}: {r['samples_per_s']:,.0f} samples/s (goal >= 100,000)")
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["wall_s"] = time.perf_counter() - started
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwall {report['wall_s']:.0f}s; load average {report['machine']['loadavg_start'][0]:.1f} -> "
          f"{report['machine']['loadavg_end'][0]:.1f}; wrote {args.output}")


if __name__ == "__main__":
    main()

"""Feature-generation benchmark: FG_NORMAL rows/s and peak memory over a Taobao-like config.

    uv run python benchmarks/fg_bench.py                                 # 1M rows, best of 3
    uv run python benchmarks/fg_bench.py --rows 100000 --repeat 1        # quick look
    uv run python benchmarks/fg_bench.py --rows 100000 --profile         # + time per feature

The config (written to --data_dir/taobao_fg.config) has 30 features: 15 user/ad/context ids
(hash, num_buckets, vocab), 4 raw numbers (boundaries, log10 and min-max normalizers), 3 combos,
2 lookups (dense sum, bucketized), a multi-value tag id, 1 weighted id and a grouped
behaviour sequence of 4 sub-features (3 hashed ids and a bucketized price) of up to 50 elements.
Data: `rec-data synth` (cached under --data_dir).

Every measurement runs in fresh processes, on data already read into memory (reading Parquet
is data_bench's subject), over --batch_size batches:

- `fg`: `FeatureGraph.compute` (all FG: the NumPy/Arrow values of every feature; torch is not
  imported);
- `parse`: `FeatureParser` (FG plus packing into the torch `Batch` a model consumes);

each in one process pinned to one core (Arrow's thread pools at 1), and `fg x2` in two such
processes, one per core, each on half the batches (rows/s = all rows / the slower one's time).
Rows/s is the best of --repeat rounds (wall clock), with the rows per second of the processes'
CPU time beside it (what a core gives when the machine is shared, as it often is). Peak RSS
is the process's, with what the data and imports take before FG started. Results print as a
table and go to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
train_input_path: "unused"
eval_input_path: "unused"
model_dir: "unused"
data_config { batch_size: 8192 dataset_type: ParquetDataset fg_mode: FG_NORMAL label_fields: "clk" }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 16 hash_bucket_size: 100000 } }
feature_configs { id_feature { feature_name: "cms_segid" expression: "user:cms_segid" embedding_dim: 16 num_buckets: 100 } }
feature_configs { id_feature { feature_name: "cms_group_id" expression: "user:cms_group_id" embedding_dim: 16 num_buckets: 100 } }
feature_configs { id_feature { feature_name: "final_gender_code" expression: "user:final_gender_code" embedding_dim: 16 num_buckets: 10 } }
feature_configs { id_feature { feature_name: "age_level" expression: "user:age_level" embedding_dim: 16 num_buckets: 10 } }
feature_configs { id_feature { feature_name: "pvalue_level" expression: "user:pvalue_level" embedding_dim: 16 num_buckets: 10 } }
feature_configs { id_feature { feature_name: "shopping_level" expression: "user:shopping_level" embedding_dim: 16 num_buckets: 10 } }
feature_configs { id_feature { feature_name: "occupation" expression: "user:occupation" embedding_dim: 16 num_buckets: 10 } }
feature_configs { id_feature { feature_name: "new_user_class_level" expression: "user:new_user_class_level" embedding_dim: 16 num_buckets: 10 } }
feature_configs { id_feature { feature_name: "adgroup_id" expression: "item:adgroup_id" embedding_dim: 16 hash_bucket_size: 100000 } }
feature_configs { id_feature { feature_name: "cate_id" expression: "item:cate_id" embedding_dim: 16 hash_bucket_size: 10000 } }
feature_configs { id_feature { feature_name: "campaign_id" expression: "item:campaign_id" embedding_dim: 16 hash_bucket_size: 100000 } }
feature_configs { id_feature { feature_name: "customer" expression: "item:customer" embedding_dim: 16 hash_bucket_size: 100000 } }
feature_configs { id_feature { feature_name: "brand" expression: "item:brand" embedding_dim: 16 hash_bucket_size: 100000 } }
feature_configs { id_feature { feature_name: "pid" expression: "context:pid" embedding_dim: 16 vocab_list: ["430548_1007", "430539_1007"] } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" boundaries: [1, 5, 10, 20, 50, 100, 200, 500, 1000] embedding_dim: 16 } }
feature_configs { raw_feature { feature_name: "log_price" expression: "item:price" normalizer: "method=log10,threshold=1e-6,default=-6" } }
feature_configs { raw_feature { feature_name: "user_ctr" expression: "user:user_ctr" normalizer: "method=minmax,min=0,max=1" } }
feature_configs { raw_feature { feature_name: "age" expression: "user:age" boundaries: [18, 25, 30, 35, 40, 50, 60] embedding_dim: 16 } }
feature_configs { combo_feature { feature_name: "user_cate" expression: ["user:user_id", "item:cate_id"] embedding_dim: 16 hash_bucket_size: 1000000 } }
feature_configs { combo_feature { feature_name: "age_brand" expression: ["user:age_level", "item:brand"] embedding_dim: 16 hash_bucket_size: 100000 } }
feature_configs { combo_feature { feature_name: "pid_cate" expression: ["context:pid", "item:cate_id"] embedding_dim: 16 hash_bucket_size: 100000 } }
feature_configs { lookup_feature { feature_name: "cate_clicks" map: "user:cate_clicks" key: "item:cate_key" } }
feature_configs { lookup_feature { feature_name: "cate_clicks_level" map: "user:cate_clicks" key: "item:cate_key" boundaries: [0.5, 1, 2, 4] embedding_dim: 16 } }
feature_configs { id_feature { feature_name: "tags" expression: "item:tags" embedding_dim: 16 hash_bucket_size: 10000 } }
feature_configs { id_feature { feature_name: "user_tags" expression: "user:user_tags" embedding_dim: 16 hash_bucket_size: 10000 weighted: true } }
feature_configs {
  sequence_feature {
    sequence_name: "click_50_seq"
    sequence_length: 50
    sequence_delim: ";"
    features { id_feature { feature_name: "adgroup_id" expression: "item:adgroup_id" embedding_dim: 16 hash_bucket_size: 100000 } }
    features { id_feature { feature_name: "cate_id" expression: "item:cate_id" embedding_dim: 16 hash_bucket_size: 10000 } }
    features { id_feature { feature_name: "brand" expression: "item:brand" embedding_dim: 16 hash_bucket_size: 100000 } }
    features { raw_feature { feature_name: "price" expression: "item:price" boundaries: [1, 5, 10, 20, 50, 100, 200, 500, 1000] embedding_dim: 16 } }
  }
}
model_config { feature_groups { group_name: "all" feature_names: ["user_id"] group_type: DEEP } deepfm {} }
"""


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# ----------------------------------------------------------------------------------------
# One measurement, in a fresh process.
def _child(spec: dict[str, Any]) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[spec["part"] % len(cpus)]})
    import pyarrow as pa
    import pyarrow.parquet as pq

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    from rec_core.config import load_pipeline_config
    from rec_features.dag import FeatureGraph
    from rec_features.features import create_features

    config = load_pipeline_config(spec["config"])
    data = config.data_config
    features = create_features(config.feature_configs, data.fg_mode, data.fg_encoded_multival_sep)
    graph = FeatureGraph(features)
    parser = None
    if spec["what"] == "parse":  # only this pipeline imports torch
        from rec_features.parser import FeatureParser

        parser = FeatureParser(features)
    # one chunk, so every batch has batch_size rows (row groups would cut short ones)
    table = pq.read_table(spec["path"], columns=graph.input_columns()).combine_chunks()
    batches = table.to_batches(max_chunksize=spec["batch_size"])[spec["part"] :: spec["parts"]]
    columns = [{n: b.column(i) for i, n in enumerate(b.schema.names)} for b in batches]
    rows = sum(b.num_rows for b in batches)
    graph.compute(columns[0], batches[0].num_rows)  # first-call set-up (plugin imports), not timed
    rss_before = _rss_mb()
    pool = pa.default_memory_pool()
    if spec.get("barrier"):
        Path(f"{spec['barrier']}.ready{spec['part']}").touch()
        while not Path(f"{spec['barrier']}.go").exists():
            time.sleep(0.005)
    per_feature: dict[str, float] = {}
    cpu_start = time.process_time()
    start = time.perf_counter()
    if parser is not None:
        for b in batches:
            parser(b)
    elif spec.get("profile"):
        per_feature = _profiled(graph, batches)
    else:
        for cols, b in zip(columns, batches):
            graph.compute(cols, b.num_rows)
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu_start,
        "rows_per_s": rows / seconds,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
        "data_mb": sum(b.nbytes for b in batches) / 2**20,
        "arrow_pool_peak_mb": pool.max_memory() / 2**20 if pool.max_memory() is not None else None,
        "per_feature_s": per_feature,
    }


def _profiled(graph: Any, batches: list[Any]) -> dict[str, float]:
    """CPU seconds per feature (each feature timed on its own; the graph order is kept)."""
    spent = {f.name: 0.0 for f in graph.order}
    for b in batches:
        columns = {n: b.column(i) for i, n in enumerate(b.schema.names)}
        outputs: dict[str, Any] = {}
        for f in graph.order:
            t = time.process_time()
            inputs, seq_inputs = graph._inputs(f, columns, outputs, b.num_rows)
            values = f.process(inputs, seq_inputs)
            if f.name in graph._read:
                outputs[f.name] = f.dag_value(inputs, values)
            spent[f.name] += time.process_time() - t
    return dict(sorted(spent.items(), key=lambda kv: -kv[1]))


def _run_children(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        barrier = str(Path(tmp) / "start") if len(specs) > 1 else ""
        procs = [
            subprocess.Popen([sys.executable, __file__, "--_child", json.dumps({**s, "barrier": barrier})],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
            for s in specs
        ]
        if barrier:
            while not all(Path(f"{barrier}.ready{s['part']}").exists() for s in specs):
                if any(p.poll() is not None for p in procs):
                    break
                time.sleep(0.01)
            Path(f"{barrier}.go").touch()
        results = []
        for spec, p in zip(specs, procs):
            out, err = p.communicate()
            if p.returncode != 0:
                raise RuntimeError(f"{spec}: {err[-2000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _measure(name: str, spec: dict[str, Any], parts: int) -> dict[str, Any]:
    results = _run_children([{**spec, "part": i, "parts": parts} for i in range(parts)])
    rows = sum(r["rows"] for r in results)
    seconds = max(r["seconds"] for r in results)
    return {
        "pipeline": name,
        "processes": parts,
        "rows": rows,
        "rows_per_s": rows / seconds,
        "rows_per_s_per_core": rows / seconds / parts,
        # rows per second of CPU time: what a core delivers when nothing else runs on it
        "rows_per_cpu_s": rows / sum(r["cpu_seconds"] for r in results),
        "rss_before_mb": max(r["rss_before_mb"] for r in results),
        "data_mb": sum(r["data_mb"] for r in results),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "arrow_pool_peak_mb": max(r["arrow_pool_peak_mb"] or 0 for r in results),
        "per_feature_s": results[0]["per_feature_s"],
    }


def _synth(rows: int, data_dir: Path) -> tuple[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "taobao_fg.config"
    config.write_text(CONFIG)
    path = data_dir / f"taobao_fg_{rows}.parquet"
    if not path.exists():
        cmd = [sys.executable, "-m", "rec_data.cli", "synth", "--pipeline_config_path", str(config),
               "--num_rows", str(rows), "--output", str(path), "--seed", "1"]
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return str(config), str(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch_size", type=int, default=8192)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each pipeline's best round is kept")
    ap.add_argument("--data_dir", default=str(Path(tempfile.gettempdir()) / "rec_fg_bench"), help="where the synthetic data is cached")
    ap.add_argument("--profile", action="store_true", help="also time every feature (one core)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks/results/fg_bench.json"))
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        print(json.dumps(_child(json.loads(args._child))))
        return

    config, path = _synth(args.rows, Path(args.data_dir))
    base = {"config": config, "path": path, "batch_size": args.batch_size}
    plan = [("fg", {**base, "what": "fg"}, 1), ("parse", {**base, "what": "parse"}, 1), ("fg x2", {**base, "what": "fg"}, 2)]
    best: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeat):
        for name, spec, parts in plan:
            r = _measure(name, spec, parts)
            if name not in best or r["rows_per_s"] > best[name]["rows_per_s"]:
                best[name] = {**r, "peak_rss_mb": max(r["peak_rss_mb"], best.get(name, r)["peak_rss_mb"])}
    if args.profile:
        best["profile"] = _measure("profile", {**base, "what": "fg", "profile": True}, 1)

    print(f"{args.rows:,} rows, batch {args.batch_size}, best of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
    print("| pipeline | processes | rows/s | rows/s per core | rows per CPU second | peak RSS (MB) | RSS before FG (MB) | Arrow pool peak (MB) | input data (MB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, _, _ in plan:
        r = best[name]
        print(f"| {name} | {r['processes']} | {r['rows_per_s']:,.0f} | {r['rows_per_s_per_core']:,.0f} | {r['rows_per_cpu_s']:,.0f} | "
              f"{r['peak_rss_mb']:.0f} | {r['rss_before_mb']:.0f} | {r['arrow_pool_peak_mb']:.0f} | {r['data_mb']:.0f} |")
    if args.profile:
        total = sum(best["profile"]["per_feature_s"].values())
        print("\nseconds per feature (one core):")
        for feature, s in list(best["profile"]["per_feature_s"].items())[:12]:
            print(f"  {feature:28s} {s:7.3f}  {100 * s / total:4.1f}%")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "rows": args.rows, "batch_size": args.batch_size, "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "results": best,
    }, indent=2))


if __name__ == "__main__":
    main()

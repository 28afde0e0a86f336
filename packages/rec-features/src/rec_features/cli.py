"""`rec-fg`: write the fg.json of a pipeline config, or run feature generation over a table.

`rec-fg run` writes one column per (non-stub) feature in the form FG_NONE reads back: ids as
list<int64> (weighted: map<int64, float32>), dense values as float32 or list<float32>,
sequences as lists of those. So its output is FG-encoded training data.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rec_core.cli_utils import run_cli
from rec_core.config import load_pipeline_config
from rec_core.errors import ConfigError, DataError
from rec_core.fs import atomic_write, url_to_fs
from rec_core.logging_utils import get_logger
from rec_core.progress import Progress
from rec_core.protos import data_pb2
from rec_features.features import FG_NORMAL, BaseFeature, create_features
from rec_features.fg_json import load_fg_json, write_fg_json
from rec_features.dag import FeatureGraph
from rec_features.values import to_arrow

logger = get_logger(__name__)

_FORMATS = {".parquet": "parquet", ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rec-fg", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    create = sub.add_parser("create-json", help="write fg.json for a pipeline config's feature_configs")
    create.add_argument("--pipeline_config_path", required=True, help="pipeline config (.config text or .json)")
    create.add_argument("--output", required=True, help="fg.json path to write (replaced atomically)")

    run = sub.add_parser("run", help="compute the features of a Parquet/Arrow table into a new table")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--pipeline_config_path", help="take the features, fg_mode and kept columns from this config")
    source.add_argument("--fg_json", help="take the features from this fg.json")
    run.add_argument("--input", required=True, help="a .parquet/.arrow file, a directory of them, or a glob")
    run.add_argument("--output", required=True, help="a .parquet or .arrow file (written atomically)")
    run.add_argument(
        "--fg_mode",
        choices=list(data_pb2.FgMode.keys()),
        help="default: data_config.fg_mode of the pipeline config; FG_NORMAL with --fg_json",
    )
    run.add_argument("--batch_size", type=int, default=8192, help="rows computed at a time")
    run.add_argument(
        "--keep_columns",
        help="comma-separated input columns copied to the output (default: the config's label and sample weight fields)",
    )
    return parser


def _create_json(args: argparse.Namespace) -> None:
    config = load_pipeline_config(args.pipeline_config_path)
    # fg.json describes FG from raw inputs whatever mode the data is in; building the features
    # in FG_NORMAL keeps FG_BUCKETIZE's build-time refusals out of it
    features = create_features(config.feature_configs, FG_NORMAL, config.data_config.fg_encoded_multival_sep)
    write_fg_json(features, args.output)
    print(args.output)


def _input_files(spec: str) -> list[tuple[str, str]]:
    """(path, format) of every input file: one file, the Parquet/Arrow files of a directory, or a glob."""
    fs, path = url_to_fs(spec)
    if any(c in path for c in "*?["):
        paths = sorted(fs.glob(path))
    elif fs.isdir(path):
        paths = sorted(p for p in fs.ls(path, detail=False) if os.path.splitext(p)[1] in _FORMATS)
    elif fs.exists(path):
        paths = [path]
    else:
        raise DataError(f"--input {spec!r} does not exist")
    if not paths:
        raise DataError(f"--input {spec!r} holds no .parquet or .arrow files")
    out = []
    for p in paths:
        fmt = _FORMATS.get(os.path.splitext(p)[1])
        if fmt is None:
            raise DataError(f"cannot tell the format of {p!r}: expected a .parquet, .arrow, .feather or .ipc file")
        out.append((p, fmt))
    return out


def _read_batches(spec: str, batch_size: int, columns: list[str]) -> tuple[Iterator[pa.RecordBatch], int, pa.Schema]:
    """Record batches of at most `batch_size` rows holding the wanted columns present, the row count, the schema."""
    fs, _ = url_to_fs(spec)
    files = _input_files(spec)
    total = 0
    schema = None
    for path, fmt in files:
        with fs.open(path, "rb") as f:
            if fmt == "parquet":
                meta = pq.ParquetFile(f)
                total += meta.metadata.num_rows
                file_schema = meta.schema_arrow
            else:
                reader = pa.ipc.open_file(f)
                total += reader.count_rows()
                file_schema = reader.schema
        schema = schema or pa.schema([file_schema.field(c) for c in columns if c in file_schema.names])

    def batches() -> Iterator[pa.RecordBatch]:
        for path, fmt in files:
            with fs.open(path, "rb") as f:
                if fmt == "parquet":
                    pf = pq.ParquetFile(f)
                    names = [c for c in columns if c in pf.schema_arrow.names]
                    yield from pf.iter_batches(batch_size=batch_size, columns=names)
                else:
                    reader = pa.ipc.open_file(f)
                    names = [c for c in columns if c in reader.schema.names]
                    for i in range(reader.num_record_batches):
                        rb = reader.get_batch(i).select(names)
                        for start in range(0, rb.num_rows, batch_size):
                            yield rb.slice(start, batch_size)

    assert schema is not None
    return batches(), total, schema


def _features(args: argparse.Namespace) -> tuple[list[BaseFeature], list[str]]:
    """The features to compute and the columns kept by default."""
    if args.fg_json:
        mode = data_pb2.FgMode.Value(args.fg_mode) if args.fg_mode else FG_NORMAL
        return load_fg_json(args.fg_json, mode), []
    config = load_pipeline_config(args.pipeline_config_path)
    data = config.data_config
    mode = data_pb2.FgMode.Value(args.fg_mode) if args.fg_mode else data.fg_mode
    features = create_features(config.feature_configs, mode, data.fg_encoded_multival_sep)
    return features, list(data.label_fields) + list(data.sample_weight_fields)


def _output_batch(graph: FeatureGraph, batch: pa.RecordBatch, keep: list[str]) -> pa.RecordBatch:
    columns = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
    values = graph.compute(columns, batch.num_rows)
    missing = [c for c in keep if c not in batch.schema.names]
    if missing:
        raise DataError(f"kept column(s) {missing} are not in the input; columns: {batch.schema.names}")
    arrays: dict[str, Any] = {c: batch.column(c) for c in keep}
    for name, v in values.items():
        if name in arrays:
            raise ConfigError("--keep_columns", f"{name!r} is both a kept column and a feature")
        arrays[name] = to_arrow(v)
    return pa.record_batch(arrays)


def _writer(sink: Any, fmt: str, schema: pa.Schema) -> Any:
    return pq.ParquetWriter(sink, schema) if fmt == "parquet" else pa.ipc.new_file(sink, schema)


def _run_fg(args: argparse.Namespace) -> None:
    if args.batch_size <= 0:
        raise ConfigError("--batch_size", f"must be > 0, got {args.batch_size}")
    out_format = _FORMATS.get(os.path.splitext(args.output)[1])
    if out_format is None:
        raise ConfigError("--output", f"{args.output!r}: expected a .parquet, .arrow, .feather or .ipc file")
    features, keep = _features(args)
    if args.keep_columns is not None:
        keep = [c.strip() for c in args.keep_columns.split(",") if c.strip()]
    graph = FeatureGraph(features)
    wanted = list(dict.fromkeys(graph.input_columns() + keep))
    batches, total, schema = _read_batches(args.input, args.batch_size, wanted)
    progress = Progress(total=-(-total // args.batch_size) or None, desc="rec-fg run", log_every=20)
    rows = 0
    with atomic_write(args.output, "wb") as sink:
        writer: Any = None
        for batch in batches:
            out = _output_batch(graph, batch, keep)
            writer = writer or _writer(sink, out_format, out.schema)
            writer.write_batch(out)
            rows += batch.num_rows
            progress.update(batch.num_rows)
        if writer is None:  # no rows: the output still has every column
            out = _output_batch(graph, pa.RecordBatch.from_pylist([], schema=schema), keep)
            writer = _writer(sink, out_format, out.schema)
            writer.write_batch(out)
        writer.close()
    progress.close()
    logger.info("rec-fg run: %d rows, %d features, %.0f rows/s", rows, len(graph.emitted), progress.samples_per_second)
    print(args.output)


@run_cli
def _run(argv: Sequence[str] | None) -> None:
    args = _parser().parse_args(argv)
    {"create-json": _create_json, "run": _run_fg}[args.command](args)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `rec-fg` console script."""
    sys.exit(_run(argv))


if __name__ == "__main__":
    main()

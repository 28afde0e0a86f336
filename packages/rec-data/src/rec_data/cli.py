"""`rec-data`: inspect a data source, or synthesise data for a pipeline config."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rec_core.cli_utils import run_cli
from rec_core.config import load_pipeline_config
from rec_core.errors import DataError

from rec_data.fields import parse_input_fields_str
from rec_data.inspect import inspect_source
from rec_data.options import CsvOptions, dataset_kind
from rec_data.synth import write_synth


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rec-data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write synthetic data (with learnable labels) for a pipeline config")
    synth.add_argument("--pipeline_config_path", required=True, help="pipeline config (.config text or .json)")
    synth.add_argument("--num_rows", type=int, required=True, help="rows to write in all")
    synth.add_argument("--output", required=True, help="a .parquet/.csv file, or a directory for part-<i> files")
    synth.add_argument("--seed", type=int, default=0, help="seed for the row values")
    synth.add_argument("--label_seed", type=int, default=0, help="seed for the label concept (share it between train and eval data)")
    synth.add_argument("--format", choices=("parquet", "csv", "arrow"), help="default: from the output name, else data_config.dataset_type")
    synth.add_argument("--num_files", type=int, default=1, help="files to split the rows over")

    inspect = sub.add_parser("inspect", help="print a source's schema, row count and first rows")
    inspect.add_argument("input_path", help="comma-separated files, directories or globs (local or URL)")
    inspect.add_argument("--num_rows", type=int, default=5, help="rows to print")
    inspect.add_argument(
        "--format",
        help="a reader kind (parquet, csv, arrow, a plugin's) or rec.readers name; default: by the files' endings, else parquet",
    )
    inspect.add_argument("--pipeline_config_path", help="take the format and CSV options from this config's data_config")
    inspect.add_argument("--delimiter", help="CSV delimiter (default ,)")
    inspect.add_argument("--with_header", action="store_true", help="CSV files start with a header line")
    inspect.add_argument("--input_fields_str", help="CSV columns as name:TYPE;... (needed without a header)")
    return parser


def _synth(args: argparse.Namespace) -> None:
    config = load_pipeline_config(args.pipeline_config_path)
    fmt = args.format
    if fmt is None:
        ending = args.output.lower().rsplit(".", 1)[-1]
        fmt = {"csv": "csv", "parquet": "parquet", "arrow": "arrow", "feather": "arrow"}.get(ending) or dataset_kind(config.data_config)
    paths = write_synth(
        config,
        args.num_rows,
        args.output,
        seed=args.seed,
        label_seed=args.label_seed,
        fmt=fmt,
        num_files=args.num_files,
    )
    for path in paths:
        print(path)


def _inspect(args: argparse.Namespace) -> None:
    kind = args.format
    options = CsvOptions()
    if args.pipeline_config_path:
        data = load_pipeline_config(args.pipeline_config_path).data_config
        kind = kind or dataset_kind(data)
        options = CsvOptions.from_data_config(data)
    if args.delimiter is not None or args.with_header or args.input_fields_str:
        options = CsvOptions(
            delimiter=args.delimiter if args.delimiter is not None else options.delimiter,
            with_header=args.with_header or options.with_header,
            fields=tuple(parse_input_fields_str(args.input_fields_str)) if args.input_fields_str else options.fields,
        )
    if args.num_rows < 0:
        raise DataError(f"--num_rows must be >= 0, got {args.num_rows}")
    inspect_source(args.input_path, kind=kind, csv_options=options, num_rows=args.num_rows)


@run_cli
def _run(argv: Sequence[str] | None) -> None:
    args = _parser().parse_args(argv)
    {"synth": _synth, "inspect": _inspect}[args.command](args)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `rec-data` console script."""
    sys.exit(_run(argv))


if __name__ == "__main__":
    main()

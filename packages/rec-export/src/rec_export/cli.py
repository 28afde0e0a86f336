"""`rec-export` (freeze a checkpoint) and `rec-serve` (serve an export over HTTP)."""

from __future__ import annotations

import argparse

from rec_core.cli_utils import run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """TorchEasyRec's export arguments, plus --exporter."""
    p = argparse.ArgumentParser(
        prog="rec-export",
        description="Export a checkpoint for serving. Env flags: QUANT_EMB, QUANT_EC_EMB, ENABLE_AOT, ENABLE_TRT, "
        "INPUT_TILE, MAX_EXPORT_BATCH_SIZE, LOCAL_CACHE_DIR (see the rec-export README).",
    )
    p.add_argument("--pipeline_config_path", required=True)
    p.add_argument("--export_dir", required=True, help="output directory or fsspec URL; must not exist")
    p.add_argument("--checkpoint_path", help="checkpoint dir (default: export_config's latest or best in model_dir)")
    p.add_argument("--asset_files", default="", help="comma list of files copied into the export")
    p.add_argument("--edit_config_json")
    p.add_argument("--exporter", help="a rec.exporters plugin (default: chosen by ENABLE_AOT / ENABLE_TRT)")
    return p.parse_args(argv)


@run_cli
def main(argv: list[str] | None = None) -> int:
    """Entry point of `rec-export`."""
    args = parse_args(argv)
    from rec_export.exporter import export

    assets = [a for a in args.asset_files.split(",") if a]
    export(args.pipeline_config_path, args.export_dir, args.checkpoint_path, assets, args.edit_config_json, args.exporter)
    print(f"exported to {args.export_dir}")
    return 0


def parse_serve_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Arguments of `rec-serve`."""
    from rec_export.serve import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_ROWS

    p = argparse.ArgumentParser(prog="rec-serve", description="Serve an export: POST /predict, GET /health.")
    p.add_argument("--export_dir", required=True)
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--max_body_bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    p.add_argument("--max_rows", type=int, default=DEFAULT_MAX_ROWS, help="rows per request")
    p.add_argument("--device", default="cpu")
    return p.parse_args(argv)


@run_cli
def serve_main(argv: list[str] | None = None) -> int:
    """Entry point of `rec-serve`."""
    args = parse_serve_args(argv)
    from rec_export.predictor import Predictor
    from rec_export.serve import serve

    predictor = Predictor(args.export_dir, device=args.device)
    serve(predictor, args.host, args.port, args.max_body_bytes, args.max_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`rec-export`: freeze a checkpoint into an export directory."""

from __future__ import annotations

import argparse

from rec_core.cli_utils import run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """TorchEasyRec's export arguments."""
    p = argparse.ArgumentParser(prog="rec-export", description="Export a checkpoint for serving.")
    p.add_argument("--pipeline_config_path", required=True)
    p.add_argument("--export_dir", required=True, help="output directory; must not exist")
    p.add_argument("--checkpoint_path", help="checkpoint dir (default: latest in model_dir)")
    p.add_argument("--asset_files", default="", help="comma list of files copied into the export")
    p.add_argument("--edit_config_json")
    return p.parse_args(argv)


@run_cli
def main(argv: list[str] | None = None) -> int:
    """Entry point of `rec-export`."""
    args = parse_args(argv)
    from rec_export.exporter import export

    assets = [a for a in args.asset_files.split(",") if a]
    export(args.pipeline_config_path, args.export_dir, args.checkpoint_path, assets, args.edit_config_json)
    print(f"exported to {args.export_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

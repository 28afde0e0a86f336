"""`rec-predict`: score a table with an export (--scripted_model_path) or a checkpoint."""

from __future__ import annotations

import argparse

from rec_core.cli_utils import run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """TorchEasyRec's predict arguments."""
    p = argparse.ArgumentParser(prog="rec-predict", description="Batch prediction to Parquet/CSV.")
    p.add_argument("--scripted_model_path", help="export directory (from rec-export)")
    p.add_argument("--pipeline_config_path", help="checkpoint mode: the training pipeline config")
    p.add_argument("--checkpoint_path", help="checkpoint mode: checkpoint dir (default: latest in model_dir)")
    p.add_argument("--predict_input_path", required=True)
    p.add_argument("--predict_output_path", required=True, help="output directory (part-<rank> files) or file")
    p.add_argument("--reserved_columns", default="", help="comma list of input columns copied to the output")
    p.add_argument("--output_columns", default="", help="comma list of prediction outputs (default: all)")
    p.add_argument("--batch_size", type=int)
    p.add_argument("--writer_type", default="parquet", choices=["parquet", "csv"])
    p.add_argument("--edit_config_json")
    return p.parse_args(argv)


@run_cli
def main(argv: list[str] | None = None) -> int:
    """Entry point of `rec-predict`."""
    args = parse_args(argv)
    from rec_dist.predict import PredictArgs, predict
    from rec_dist.process_group import destroy_process_group

    try:
        predict(PredictArgs(**vars(args)))
    finally:
        destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

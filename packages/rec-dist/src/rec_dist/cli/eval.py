"""`rec-eval`: evaluate a checkpoint on the eval data."""

from __future__ import annotations

import argparse

from rec_core.cli_utils import run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """TorchEasyRec's eval arguments."""
    p = argparse.ArgumentParser(prog="rec-eval", description="Evaluate a checkpoint.")
    p.add_argument("--pipeline_config_path", required=True)
    p.add_argument("--checkpoint_path", help="checkpoint dir (default: latest in model_dir)")
    p.add_argument("--eval_input_path", help="overrides eval_input_path")
    p.add_argument("--eval_result_filename", default="eval_result.txt", help="JSON-lines file in model_dir")
    p.add_argument("--edit_config_json")
    return p.parse_args(argv)


@run_cli
def main(argv: list[str] | None = None) -> int:
    """Entry point of `rec-eval`."""
    args = parse_args(argv)
    from rec_dist.eval_run import evaluate_checkpoint
    from rec_dist.process_group import destroy_process_group

    try:
        metrics = evaluate_checkpoint(**vars(args))
    finally:
        destroy_process_group()
    print("eval: " + " ".join(f"{k}={v:.6f}" for k, v in sorted(metrics.items())), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`rec-train`: train and evaluate a pipeline (plain `python` or under `torchrun`)."""

from __future__ import annotations

import argparse
import os

from rec_core.cli_utils import run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """TorchEasyRec's train_eval arguments, plus --seed."""
    p = argparse.ArgumentParser(prog="rec-train", description="Train and evaluate a pipeline config.")
    p.add_argument("--pipeline_config_path", required=True, help="pipeline config (.config text format or .json)")
    p.add_argument("--model_dir", help="overrides model_dir of the config")
    p.add_argument("--train_input_path", help="overrides train_input_path")
    p.add_argument("--eval_input_path", help="overrides eval_input_path")
    p.add_argument("--continue_train", action="store_true", help="resume from the latest checkpoint in model_dir")
    p.add_argument("--fine_tune_checkpoint", help="warm-start model weights from this checkpoint or model_dir")
    p.add_argument("--edit_config_json", help='JSON of dotted paths to values, e.g. {"train_config.num_steps": 10}')
    p.add_argument("--ignore_restore_optimizer", action="store_true", help="with --continue_train, restore weights only")
    # beyond TorchEasyRec's arguments
    p.add_argument(
        "--seed", type=int, help="seed model initialisation, dropout and the train shuffle (the same on every rank)"
    )
    return p.parse_args(argv)


@run_cli
def main(argv: list[str] | None = None) -> int:
    """Entry point of `rec-train`."""
    args = parse_args(argv)
    from rec_dist.process_group import destroy_process_group
    from rec_dist.train_eval import TrainArgs, train_and_evaluate

    try:
        metrics = train_and_evaluate(TrainArgs(**vars(args)))
    finally:
        destroy_process_group()
    if metrics and os.environ.get("RANK", "0") == "0":
        print("final eval: " + " ".join(f"{k}={v:.6f}" for k, v in sorted(metrics.items())), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

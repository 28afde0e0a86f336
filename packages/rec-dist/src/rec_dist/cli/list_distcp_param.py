"""`rec-list-distcp-param`: list the parameters stored in a checkpoint."""

from __future__ import annotations

import argparse

from rec_core.cli_utils import run_cli


@run_cli
def main(argv: list[str] | None = None) -> int:
    """Print `name<TAB>shape<TAB>dtype` for every tensor of the checkpoint (or model_dir's latest)."""
    p = argparse.ArgumentParser(prog="rec-list-distcp-param", description=main.__doc__)
    p.add_argument("--checkpoint_path", required=True, help="model.ckpt-<step> directory or a model_dir")
    args = p.parse_args(argv)
    from rec_dist.checkpoint import list_params, resolve_checkpoint

    for name, shape, dtype in list_params(resolve_checkpoint(args.checkpoint_path)):
        print(f"{name}\t{list(shape)}\t{dtype}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

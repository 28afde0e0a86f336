"""`rec-tools feature-selection`: rank features by the drop probabilities a model learnt with
variational dropout, and prune its config to the top-k features of each group.

Writes to --output_dir: `feature_dropout_ratio_<group>.csv` (feature_name, mean_drop_p; most
useful first), with --visualize `feature_dropout_pic_<group>.png`, and the pruned pipeline
config under the input config's file name. Sequence groups and sequence features are always
kept, as are features the model reads outside its groups (grouping keys, session names).
"""

from __future__ import annotations

import argparse
import csv
import os
from typing import Any

from rec_core.config import load_pipeline_config, save_message
from rec_core.config_check import check_pipeline_config
from rec_core.errors import CheckpointError, ConfigError
from rec_core.logging_utils import get_logger

logger = get_logger(__name__)

PARAM = "group_variational_dropouts.{group}.feature_p"
_SEQUENCE_GROUPS = (2, 3)  # FeatureGroupType SEQUENCE, JAGGED_SEQUENCE
_NAME_FIELDS = ("grouping_key", "session_name")


def drop_probabilities(config: Any, checkpoint: str) -> dict[str, dict[str, float]]:
    """{group: {feature: mean drop probability}} from the checkpoint's variational-dropout parameters."""
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner

    from rec_dist.checkpoint import list_params
    from rec_dist.setup import build_features, build_model

    features, _ = build_features(config)
    # tables on the meta device: only the dropout parameters are read
    model = build_model(config, features, torch.device("meta"))
    dropouts = getattr(model, "group_variational_dropouts", None)
    if dropouts is None or not len(dropouts):
        raise ConfigError("model_config.variational_dropout", "no feature group has variational dropout (it needs a DEEP or WIDE group of 2+ features)")
    stored = {name: shape for name, shape, _ in list_params(checkpoint)}
    state: dict[str, Any] = {}
    for group, module in dropouts.items():
        suffix = PARAM.format(group=group)
        keys = [k for k in stored if k == suffix or k.endswith("." + suffix)]
        if not keys:
            raise CheckpointError(f"{checkpoint}: no {suffix} (was this model trained with variational_dropout?)")
        if tuple(stored[keys[0]]) != tuple(module.feature_p.shape):
            raise CheckpointError(
                f"{checkpoint}: {keys[0]} has shape {list(stored[keys[0]])}, the config's group {group!r} needs {list(module.feature_p.shape)}"
            )
        state[keys[0]] = module.feature_p.data
    dcp.load(state, checkpoint_id=checkpoint, planner=DefaultLoadPlanner(allow_partial_load=True))
    return {group: module.feature_drop_p() for group, module in dropouts.items()}


def rank(drop: dict[str, float]) -> list[tuple[str, float]]:
    """Features by mean drop probability, lowest (most useful) first; ties by name."""
    return sorted(drop.items(), key=lambda kv: (kv[1], kv[0]))


def write_csv(ranked: list[tuple[str, float]], path: str) -> None:
    """feature_name, mean_drop_p rows."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["feature_name", "mean_drop_p"])
        writer.writerows((name, f"{p:.6f}") for name, p in ranked)


def plot(ranked: list[tuple[str, float]], group: str, path: str) -> None:
    """Horizontal bars of the drop probabilities (matplotlib, PNG)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ConfigError("--visualize", "drawing needs matplotlib: install rec-tools[plot]") from e
    names = [n for n, _ in ranked][::-1]
    values = [p for _, p in ranked][::-1]
    fig, ax = plt.subplots(figsize=(8, max(2.0, 0.3 * len(names) + 1)))
    ax.barh(names, values, color=["tab:green" if v < 0.5 else "tab:red" for v in values])
    ax.set_xlim(0, 1)
    ax.set_xlabel("mean drop probability")
    ax.set_title(f"feature group {group}")
    ax.grid(axis="x", linestyle="--", alpha=0.5)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def _names_in_fields(message: Any, fields: tuple[str, ...]) -> set[str]:
    """Values of fields named `fields` anywhere inside a message."""
    out = set()
    for fd, value in message.ListFields():
        if fd.name in fields and isinstance(value, str):
            out.add(value)
        elif fd.message_type is not None:
            for item in value if fd.is_repeated else [value]:
                out |= _names_in_fields(item, fields)
    return out


def prune(config: Any, ranked: dict[str, list[tuple[str, float]]], topk: int, clear: bool) -> dict[str, list[str]]:
    """Keep the top-k features of each ranked group and drop unused feature configs, in place; {group: kept}."""
    kept: dict[str, list[str]] = {}
    used = _names_in_fields(config.model_config, _NAME_FIELDS)
    for group in config.model_config.feature_groups:
        if group.group_name in ranked:
            # sequence-encoder entries are ranked too, but only features compete for the top k
            best = [name for name, _ in ranked[group.group_name] if name in group.feature_names][:topk]
            names = [n for n in group.feature_names if n in best]
            del group.feature_names[:]
            group.feature_names.extend(names)
            kept[group.group_name] = names
        used |= set(group.feature_names)
        used |= {n for sg in group.sequence_groups for n in sg.feature_names}
    configs = []
    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        if kind == "sequence_feature" or getattr(fc, kind).feature_name in used:
            configs.append(fc)
        else:
            logger.info("dropped feature %s", getattr(fc, kind).feature_name)
    del config.feature_configs[:]
    config.feature_configs.extend(configs)
    if clear:
        config.model_config.ClearField("variational_dropout")
    return kept


def feature_selection(args: argparse.Namespace) -> str:
    """Rank, write the CSVs (and PNGs), write the pruned config; returns its path."""
    from rec_dist.checkpoint import resolve_checkpoint

    if args.topk <= 0:
        raise ConfigError("--topk", f"must be positive, got {args.topk}")
    config = load_pipeline_config(args.pipeline_config_path)
    if not config.model_config.HasField("variational_dropout"):
        raise ConfigError(
            "model_config.variational_dropout",
            "not set: feature selection reads the drop probabilities a model learns with variational_dropout {}",
            source=args.pipeline_config_path,
        )
    checkpoint = resolve_checkpoint(args.model_dir or config.model_dir)
    ranked = {group: rank(drop) for group, drop in drop_probabilities(config, checkpoint).items()}
    os.makedirs(args.output_dir, exist_ok=True)
    for group, rows in ranked.items():
        write_csv(rows, os.path.join(args.output_dir, f"feature_dropout_ratio_{group}.csv"))
        if args.visualize:
            plot(rows, group, os.path.join(args.output_dir, f"feature_dropout_pic_{group}.png"))
    kept = prune(config, ranked, args.topk, args.clear_variational_dropout)
    out = os.path.join(args.output_dir, os.path.basename(args.pipeline_config_path))
    check_pipeline_config(config, source=f"{out} (pruned)")
    save_message(config, out)
    for group, names in kept.items():
        logger.info("group %s keeps %d of %d features: %s", group, len(names), len(ranked[group]), names)
    return out


def run(args: argparse.Namespace) -> None:
    """`rec-tools feature-selection`."""
    print(feature_selection(args))

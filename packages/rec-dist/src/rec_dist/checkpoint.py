"""Checkpoints through torch.distributed.checkpoint, committed atomically.

Every rank writes its shards into a hidden temporary directory; once all have finished,
rank 0 adds meta.json and renames it to `model.ckpt-<step>`. A crash at any point leaves
only the hidden directory, which `latest_checkpoint` never picks and the next run removes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner

from rec_core.errors import CheckpointError
from rec_core.logging_utils import get_logger
from rec_dist.process_group import barrier, broadcast_object

logger = get_logger(__name__)

_CKPT_RE = re.compile(r"^model\.ckpt-(\d+)$")
META_FILE = "meta.json"
PLAN_FILE = "plan.json"  # readable summary
PLAN_OBJECT_FILE = "plan.pt"  # the ShardingPlan itself, reused on restore


def checkpoint_dirs(model_dir: str) -> list[tuple[int, str]]:
    """(step, path) of every complete checkpoint in model_dir, oldest first."""
    if not os.path.isdir(model_dir):
        return []
    out = []
    for name in os.listdir(model_dir):
        m = _CKPT_RE.match(name)
        path = os.path.join(model_dir, name)
        if m and os.path.isfile(os.path.join(path, META_FILE)):
            out.append((int(m.group(1)), path))
    return sorted(out)


def latest_checkpoint(model_dir: str) -> str | None:
    """Path of the newest complete checkpoint in model_dir, or None."""
    dirs = checkpoint_dirs(model_dir)
    return dirs[-1][1] if dirs else None


def resolve_checkpoint(path: str) -> str:
    """A checkpoint dir itself, or the latest one inside a model_dir; error when there is none."""
    if os.path.isfile(os.path.join(path, META_FILE)):
        return path
    latest = latest_checkpoint(path)
    if latest is None:
        raise CheckpointError(f"no checkpoint found at {path!r} (expected model.ckpt-<step>/ with {META_FILE})")
    return latest


def read_meta(ckpt: str) -> dict[str, Any]:
    """The meta.json of a checkpoint (global_step, epoch, world_size)."""
    with open(os.path.join(ckpt, META_FILE)) as f:
        return json.load(f)


def remove_incomplete(model_dir: str) -> None:
    """Delete temporary directories left by interrupted saves (rank 0 only)."""
    if not os.path.isdir(model_dir):
        return
    for name in os.listdir(model_dir):
        if name.startswith(".model.ckpt-") and name.endswith(".tmp"):
            shutil.rmtree(os.path.join(model_dir, name), ignore_errors=True)


def save_checkpoint(
    model_dir: str,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    meta: dict[str, Any],
    rank: int,
) -> str:
    """Save model (+ optimizer) state as model.ckpt-<step>; every rank must call it."""
    final = os.path.join(model_dir, f"model.ckpt-{step}")
    tmp = os.path.join(model_dir, f".model.ckpt-{step}.tmp")
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    barrier()
    state: dict[str, Any] = {"model": model.state_dict()}
    if optimizer is not None:
        state["optim"] = optimizer.state_dict()
    dcp.save(state, checkpoint_id=tmp)
    barrier()
    if rank == 0:
        plan = getattr(model, "plan", None)
        if plan is not None:
            from rec_dist.sharding import plan_to_dict

            with open(os.path.join(tmp, PLAN_FILE), "w") as f:
                json.dump(plan_to_dict(plan), f, indent=1)
            torch.save(plan, os.path.join(tmp, PLAN_OBJECT_FILE))
        with open(os.path.join(tmp, META_FILE), "w") as f:
            json.dump({"global_step": step, **meta}, f)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
        logger.info("saved checkpoint %s", final)
    barrier()
    return final


def list_params(ckpt: str) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, global shape, dtype) of every tensor stored in a checkpoint, read from its metadata."""
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    try:
        metadata = FileSystemReader(ckpt).read_metadata()
    except Exception as e:  # the reader raises several types for a missing or foreign directory
        raise CheckpointError(f"cannot read checkpoint metadata in {ckpt!r}: {e}") from e
    out = []
    for name, md in sorted(metadata.state_dict_metadata.items()):
        if isinstance(md, TensorStorageMetadata):
            out.append((name, tuple(md.size), str(md.properties.dtype).replace("torch.", "")))
    return out


def prune_checkpoints(model_dir: str, keep_max: int, protect: str | None = None) -> None:
    """Keep the newest `keep_max` checkpoints (0 keeps all), and `protect` (e.g. the best one)."""
    if keep_max <= 0:
        return
    for _, old in checkpoint_dirs(model_dir)[:-keep_max]:
        if old != protect:
            shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(
    ckpt: str,
    model: torch.nn.Module,
    optimizer: Any = None,
    partial: bool = False,
    param_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Restore model (and optimizer) state from `ckpt`.

    `partial` tolerates parameters missing from the checkpoint; `param_map` maps a model
    parameter name to the name it has in the checkpoint (for warm starts across renames).
    """
    if not os.path.isfile(os.path.join(ckpt, META_FILE)):
        raise CheckpointError(f"{ckpt!r} is not a complete checkpoint (no {META_FILE})")
    model_state = model.state_dict()
    # DCP loads in place into these tensors, so renaming the keys loads old names into new params
    state: dict[str, Any] = {"model": {(param_map or {}).get(k, k): v for k, v in model_state.items()}}
    if optimizer is not None:
        state["optim"] = optimizer.state_dict()
    try:
        dcp.load(state, checkpoint_id=ckpt, planner=DefaultLoadPlanner(allow_partial_load=partial))
    except Exception as e:  # DCP reports shape/key mismatches in many exception types
        raise CheckpointError(f"cannot restore {ckpt!r}: {type(e).__name__}: {e}") from e
    model.load_state_dict(model_state, strict=not partial)
    if optimizer is not None:
        optimizer.load_state_dict(state["optim"])
    logger.info("restored %s from %s", "model and optimizer" if optimizer is not None else "model", ckpt)
    return read_meta(ckpt)


def saved_plan(ckpt: str | None, world_size: int) -> Any:
    """The sharding plan stored with `ckpt`, if it was made for the same world size."""
    if not ckpt or not os.path.isfile(os.path.join(ckpt, PLAN_OBJECT_FILE)):
        return None
    if read_meta(ckpt).get("world_size") != world_size:
        logger.info("world size changed since %s: planning the sharding again", ckpt)
        return None
    return torch.load(os.path.join(ckpt, PLAN_OBJECT_FILE), weights_only=False)


def read_param_map(path: str) -> dict[str, str]:
    """`new_name<TAB>old_name` lines of a fine_tune_ckpt_param_map file (empty path: no map)."""
    if not path:
        return {}
    out = {}
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2:
                raise CheckpointError(f"{path}: line {i}: expected `new_name<TAB>old_name`")
            out[parts[0]] = parts[1]
    return out


def best_checkpoint(model_dir: str, results_path: str, export_config: Any) -> str | None:
    """The existing checkpoint with the best eval metric (export_config's best_exporter_metric)."""
    if not os.path.isfile(results_path):
        return None
    metric = export_config.best_exporter_metric or "auc"
    sign = 1.0 if export_config.metric_larger_is_better else -1.0
    existing = {step: path for step, path in checkpoint_dirs(model_dir)}
    best: tuple[float, str] | None = None
    with open(results_path) as f:
        for line in f:
            row = json.loads(line)
            step, value = row.get("global_step"), row.get(metric)
            if value is not None and step in existing and (best is None or sign * value > best[0]):
                best = (sign * value, existing[step])
    return best[1] if best else None


def agreed_latest(model_dir: str, rank: int) -> str | None:
    """Rank 0's view of the latest checkpoint, shared with every rank."""
    return broadcast_object(latest_checkpoint(model_dir) if rank == 0 else None)  # type: ignore[return-value]

"""Process groups: gloo on CPU, nccl on GPU; a plain `python` run is a world of one."""

from __future__ import annotations

import datetime
import gc
import os
import socket

import torch
import torch.distributed as dist

from rec_core.env import process_group_timeout_seconds
from rec_core.logging_utils import quiet_third_party


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_process_group() -> tuple[torch.device, int, int]:
    """Join (or create) the default process group; returns (device, rank, world size)."""
    quiet_third_party()
    launched = "RANK" in os.environ
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device, backend = torch.device(f"cuda:{local_rank}"), "nccl"
        torch.cuda.set_device(device)
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=process_group_timeout_seconds())
        if launched:
            dist.init_process_group(backend, timeout=timeout)
        else:
            # not launched by torchrun: a world of one on a free local port, set up without
            # touching os.environ so that processes started later do not inherit it
            init = f"tcp://127.0.0.1:{_free_port()}"
            dist.init_process_group(backend, init_method=init, rank=0, world_size=1, timeout=timeout)
    return device, dist.get_rank(), dist.get_world_size()


def destroy_process_group() -> None:
    """Leave the process group if one is active.

    Objects that still hold collective work (a train pipeline's prefetched input all-to-all,
    kept alive by reference cycles) are collected first: freed later, during interpreter
    shutdown, gloo's worker threads abort the process.
    """
    gc.collect()
    if dist.is_initialized():
        dist.destroy_process_group()


def all_have_data(has_data: bool, device: torch.device) -> bool:
    """True only while every rank still has a batch, so ranks with uneven data stop together."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return has_data
    flag = torch.tensor([1 if has_data else 0], dtype=torch.int32, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def broadcast_object(obj: object) -> object:
    """Rank 0's value of `obj` on every rank."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]

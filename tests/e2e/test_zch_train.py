"""Zero-collision hashed features through rec-train: one process, two under torchrun (gloo), continue_train."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

from tests.conftest import rec, torchrun, write_config

pytestmark = pytest.mark.slow
EMPTY = torch.iinfo(torch.int64).max  # raw id of a free slot
ZCH = {
    "feature_configs[0].id_feature.zch": {"zch_size": 2000, "eviction_interval": 2, "lfu": {}},
    "feature_configs[1].id_feature.zch": {"zch_size": 1500, "eviction_interval": 3, "lru": {}},
    "feature_configs[2].id_feature.zch": {"zch_size": 800, "distance_lfu": {"decay_exponent": 0.5}},
}
USER = "model.embedding_group.mc_ebc._managed_collision_collection._managed_collision_modules.user_id_emb."


def _config(tmp_path: Path, synth_data: dict[str, Path]) -> Path:
    """2560 train rows (10 steps of 256 on one process, 5 per epoch on two) and 1024 eval rows,
    as two row groups (one per rank)."""
    for split, rows in (("train", 2560), ("eval", 1024)):
        pq.write_table(pq.read_table(synth_data[split]).slice(0, rows), tmp_path / f"{split}.parquet", row_group_size=rows // 2)
    edits = {
        "train_input_path": str(tmp_path / "train.parquet"),
        "eval_input_path": str(tmp_path / "eval.parquet"),
        "model_dir": str(tmp_path / "model"),
        "data_config.batch_size": 256,
        "data_config.num_workers": 0,
        # row-wise pooled tables on gloo need the same batch size on every rank
        "data_config.drop_remainder": True,
        "train_config.num_epochs": 1,
        "train_config.save_checkpoints_steps": 1000,
        **ZCH,
    }
    return write_config(tmp_path / "pipeline.config", edits)


def _state(tmp_path: Path, step: int) -> dict[str, torch.Tensor]:
    dcp_to_torch_save(tmp_path / "model" / f"model.ckpt-{step}", tmp_path / f"{step}.pt")
    return torch.load(tmp_path / f"{step}.pt", weights_only=False)["model"]


def _remapping(state: dict[str, torch.Tensor]) -> dict[int, int]:
    """{raw user id: table row} of the admitted user ids."""
    ids, rows = state[USER + "_mch_sorted_raw_ids"], state[USER + "_mch_remapped_ids_mapping"]
    return {int(i): int(r) for i, r in zip(ids, rows) if i != EMPTY}


def _final_eval(stdout: str) -> str:
    match = re.search(r"eval: (auc=\S+ binary_cross_entropy=\S+)", stdout)
    assert match, stdout[-2000:]
    return match.group(1)


def test_one_process_trains_and_eval_restores_the_remapping(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    config = _config(tmp_path, synth_data)
    train = rec("rec_dist.cli.train", "--pipeline_config_path", str(config))
    assert train.returncode == 0, train.stderr[-3000:]
    state = _state(tmp_path, 10)
    assert int(state[USER + "_current_iter_tensor"]) == 10
    remapping = _remapping(state)
    assert len(remapping) > 500 and all(0 <= row < 1999 for row in remapping.values())
    assert len(set(remapping.values())) == len(remapping)
    assert all(USER.replace("user_id", name) + "_mch_sorted_raw_ids" in state for name in ("item_id", "category"))
    # a fresh process restores the remapping with the tables: evaluation repeats the training's final eval
    evaluation = rec("rec_dist.cli.eval", "--pipeline_config_path", str(config))
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    assert _final_eval(evaluation.stdout) == _final_eval(train.stdout)


@pytest.mark.dist
def test_two_processes_train_and_continue_train_restores_the_remapping(tmp_path: Path, synth_data: dict[str, Path]) -> None:
    config = _config(tmp_path, synth_data)
    first = torchrun("rec_dist.cli.train", "--pipeline_config_path", str(config))
    assert first.returncode == 0, first.stderr[-3000:]
    assert "user_id_emb:row_wise@[0, 1]" in first.stderr + first.stdout
    before = _remapping(_state(tmp_path, 5))
    resumed = torchrun(
        "rec_dist.cli.train", "--pipeline_config_path", str(config), "--continue_train", "--edit_config_json", '{"train_config.num_epochs": 2}'
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    state = _state(tmp_path, 10)
    assert int(state[USER + "_current_iter_tensor"]) == 10
    after = _remapping(state)
    # the table has room for every user, so LFU evicts nobody: each user admitted before the
    # restart keeps its row, and the five later steps admit more
    assert len(before) > 300 and len(after) > len(before)
    assert {i: after.get(i) for i in before} == before

"""Checkpoint discovery only ever sees complete checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rec_core.errors import CheckpointError
from rec_dist import checkpoint as ckpt


def _complete(model_dir: Path, step: int) -> Path:
    d = model_dir / f"model.ckpt-{step}"
    d.mkdir(parents=True)
    (d / ckpt.META_FILE).write_text(json.dumps({"global_step": step}))
    return d


def test_latest_ignores_incomplete_and_temporary(tmp_path: Path) -> None:
    _complete(tmp_path, 5)
    _complete(tmp_path, 40)
    (tmp_path / "model.ckpt-100").mkdir()  # shards written, no meta.json
    (tmp_path / ".model.ckpt-120.tmp").mkdir()
    assert [s for s, _ in ckpt.checkpoint_dirs(str(tmp_path))] == [5, 40]
    assert ckpt.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-40")
    assert ckpt.resolve_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-40")
    assert ckpt.resolve_checkpoint(str(tmp_path / "model.ckpt-5")) == str(tmp_path / "model.ckpt-5")
    ckpt.remove_incomplete(str(tmp_path))
    assert not (tmp_path / ".model.ckpt-120.tmp").exists()


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        ckpt.resolve_checkpoint(str(tmp_path))
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        ckpt.load_checkpoint(str(tmp_path), torch.nn.Linear(2, 2))


def test_save_and_load_round_trip_in_one_process(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    path = ckpt.save_checkpoint(str(tmp_path), 7, model, opt, {"epoch": 1}, rank=0)
    ckpt.save_checkpoint(str(tmp_path), 9, model, opt, {"epoch": 1}, rank=0)
    ckpt.save_checkpoint(str(tmp_path), 11, model, opt, {"epoch": 1}, rank=0)
    ckpt.prune_checkpoints(str(tmp_path), 1, protect=path)
    assert [s for s, _ in ckpt.checkpoint_dirs(str(tmp_path))] == [7, 11], "keeps the newest and the protected one"
    restored = torch.nn.Linear(3, 2)
    meta = ckpt.load_checkpoint(str(tmp_path / "model.ckpt-11"), restored)
    assert meta == {"global_step": 11, "epoch": 1}
    assert torch.equal(restored.weight, model.weight)


def test_list_params_reads_names_shapes_and_dtypes(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    ckpt.save_checkpoint(str(tmp_path), 1, model, None, {}, rank=0)
    params = ckpt.list_params(ckpt.resolve_checkpoint(str(tmp_path)))
    assert params == [("model.bias", (2,), "float32"), ("model.weight", (2, 3), "float32")]
    with pytest.raises(CheckpointError, match="cannot read checkpoint metadata"):
        ckpt.list_params(str(tmp_path))


def test_param_map_warm_starts_renamed_parameters(tmp_path: Path) -> None:
    old = torch.nn.Sequential(torch.nn.Linear(3, 2))
    ckpt.save_checkpoint(str(tmp_path / "old"), 1, old, None, {}, rank=0)
    new = torch.nn.Module()
    new.fc = torch.nn.Linear(3, 2)
    new.extra = torch.nn.Linear(2, 1)
    map_file = tmp_path / "map.txt"
    map_file.write_text("fc.weight\t0.weight\nfc.bias\t0.bias\n")
    ckpt.load_checkpoint(
        ckpt.resolve_checkpoint(str(tmp_path / "old")), new, partial=True, param_map=ckpt.read_param_map(str(map_file))
    )
    assert torch.equal(new.fc.weight, old[0].weight) and torch.equal(new.fc.bias, old[0].bias)
    map_file.write_text("just-one-column\n")
    with pytest.raises(CheckpointError, match="line 1"):
        ckpt.read_param_map(str(map_file))

"""Sequence models shard: the EmbeddingCollection tables (history and candidate share them) are
planned, initialised from their configs, and moved by the sparse optimizer, fused or not."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rec_core.config import edit_config, load_pipeline_config
from rec_data.synth import generate_table
from rec_dist.optimizers import build_optimizer
from rec_dist.process_group import init_process_group
from rec_dist.setup import build_features, build_model
from rec_dist.sharding import plan_to_dict, shard_model
from rec_models.optim import sparse_optimizer_spec
from rec_models.wrappers import TrainWrapper

ROOT = Path(__file__).resolve().parents[3]
DIN = ROOT / "examples/zoo/multi_tower_din.config"


def shard(sparse: str):  # type: ignore[no-untyped-def]
    config = load_pipeline_config(str(DIN))
    edit_config(config, {"train_config.sparse_optimizer": {sparse: {"lr": 0.05}}})
    # the shared item table starts from a known value, so its initialisation is visible
    for fc in config.feature_configs:
        for sub in [fc.id_feature] if fc.HasField("id_feature") else [f.id_feature for f in fc.sequence_feature.features]:
            if sub.embedding_name == "item":
                sub.init_fn = "nn.init.constant_,val=0.25"
    device, _, _ = init_process_group()
    features, parser = build_features(config)
    model = build_model(config, features, device=torch.device("meta"))
    wrapped = shard_model(TrainWrapper(model), device, 128, sparse_optimizer_spec(config.train_config.sparse_optimizer))
    optimizer, _ = build_optimizer(wrapped, config.train_config)
    batch = parser(generate_table(config, 128, seed=1).combine_chunks().to_batches()[0])
    return wrapped, optimizer, batch


def sequence_tables(wrapped) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    out = {}
    for key, w in wrapped.state_dict().items():
        if ".ecs." in key:
            local = w.local_shards()[0].tensor if hasattr(w, "local_shards") else w
            out[key.split(".embeddings.")[1].split(".")[0]] = local.detach().clone()
    return out


@pytest.mark.parametrize(("sparse", "kernel"), [("adagrad_optimizer", "fused"), ("adam_optimizer", None)])
def test_sequence_tables_are_sharded_initialised_and_trained(sparse: str, kernel: str | None) -> None:
    wrapped, optimizer, batch = shard(sparse)
    planned = {t: p for path, tables in plan_to_dict(wrapped.plan).items() if ".ecs." in path for t, p in tables.items()}
    if kernel is None:
        # on CPU the dense kernel would pool the history's rows: these tables stay plain modules,
        # trained by the sparse optimizer's unfused rule (never by the dense optimizer)
        assert planned == {}
        groups = {name: set(opt.params) for name, opt in optimizer.optimizers}
        assert {n for n in groups["sparse_unfused"] if ".ecs." in n} == {
            "model.embedding_group.ecs.16.embeddings.item.weight",
            "model.embedding_group.ecs.16.embeddings.cate.weight",
        }
        assert not any(".ecs." in n for n in groups["dense"])
    else:
        assert set(planned) == {"item", "cate"} and {p["compute_kernel"] for p in planned.values()} == {kernel}
    before = sequence_tables(wrapped)
    assert torch.all(before["item"] == 0.25)
    losses = []
    for _ in range(3):
        loss, _ = wrapped(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    after = sequence_tables(wrapped)
    for name in ("item", "cate"):
        assert not torch.equal(before[name], after[name]), f"{sparse}: {name} did not move"
    assert losses[-1] < losses[0]

"""Every sparse optimizer trains sharded tables on CPU, fused or on the dense kernel; widths that
FBGEMM cannot fuse fall back; frozen tables never move."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from rec_core.config import edit_config, load_pipeline_config
from rec_core.errors import ConfigError
from rec_dist.optimizers import build_optimizer, frozen_tables
from rec_dist.process_group import init_process_group
from rec_dist.setup import build_features, build_model
from rec_dist.sharding import plan_to_dict, shard_model
from rec_models.optim import sparse_optimizer_spec
from rec_models.wrappers import TrainWrapper

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = ROOT / "examples/quickstart/deepfm.config"
SPARSE = [
    "sgd_optimizer",
    "adagrad_optimizer",
    "rowwise_adagrad_optimizer",
    "adam_optimizer",
    "partial_rowwise_adam_optimizer",
    "lamb_optimizer",
    "partial_rowwise_lamb_optimizer",
    "lars_sgd_optimizer",
]


def config_with(sparse: str, width: int | None = None, frozen: tuple[str, ...] = (), lr: float = 0.05):  # type: ignore[no-untyped-def]
    """The quickstart DeepFM with this sparse optimizer, every embedding `width` wide (its FM
    group needs one width), and `frozen` features not trainable."""
    config = load_pipeline_config(str(QUICKSTART))
    edit_config(config, {"train_config.sparse_optimizer": {sparse: {"lr": lr}}})
    for fc in config.feature_configs:
        feature = getattr(fc, fc.WhichOneof("feature"))
        if width and feature.embedding_dim:
            feature.embedding_dim = width
        if feature.feature_name in frozen:
            feature.trainable = False
    return config


def shard(config):  # type: ignore[no-untyped-def]
    device, _, _ = init_process_group()
    features, parser = build_features(config)
    model = build_model(config, features, device=torch.device("meta"))
    wrapped = shard_model(TrainWrapper(model), device, 256, sparse_optimizer_spec(config.train_config.sparse_optimizer))
    optimizer, _ = build_optimizer(wrapped, config.train_config)
    table = pq.read_table(ROOT / "examples/quickstart/data/train.parquet").slice(0, 256).combine_chunks()
    return wrapped, optimizer, parser(table.to_batches()[0])


def tables(wrapped) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    """{table name: local weights} of the DEEP tables."""
    out = {}
    for key, w in wrapped.state_dict().items():
        if ".ebc.embedding_bags." in key:
            local = w.local_shards()[0].tensor if hasattr(w, "local_shards") else w
            out[key.split(".embedding_bags.")[1].split(".")[0]] = local.detach().clone()
    return out


def step(wrapped, optimizer, batch) -> float:  # type: ignore[no-untyped-def]
    loss, _ = wrapped(batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss)


def kernels(wrapped) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {t: p["compute_kernel"] for tables_ in plan_to_dict(wrapped.plan).values() for t, p in tables_.items()}


@pytest.mark.parametrize("sparse", SPARSE)
def test_every_optimizer_trains_widths_fbgemm_cannot_fuse(sparse: str) -> None:
    # width 6 used to stop sharding with a raw FBGEMM assertion
    wrapped, optimizer, batch = shard(config_with(sparse, width=6))
    deep = {t: k for t, k in kernels(wrapped).items() if not t.endswith("_wide")}  # wide tables are 4 wide
    assert set(deep.values()) == {"dense"}
    before = tables(wrapped)
    step(wrapped, optimizer, batch)
    after = tables(wrapped)
    assert before["user_id_emb"].shape[1] == 6
    for name in ("user_id_emb", "item_id_emb"):
        assert not torch.equal(before[name], after[name]), f"{sparse}: {name} did not move"


@pytest.mark.parametrize("sparse", ["adagrad_optimizer", "lamb_optimizer"], ids=["fused", "dense-kernel"])
def test_frozen_tables_do_not_move(sparse: str) -> None:
    wrapped, optimizer, batch = shard(config_with(sparse, frozen=("user_id", "category")))
    # a frozen feature freezes its WIDE table too
    assert frozen_tables(wrapped) == {"user_id_emb", "category_emb", "user_id_emb_wide", "category_emb_wide"}
    before = tables(wrapped)
    for _ in range(2):
        step(wrapped, optimizer, batch)
    after = tables(wrapped)
    assert torch.equal(before["user_id_emb"], after["user_id_emb"])
    assert torch.equal(before["category_emb"], after["category_emb"])
    assert not torch.equal(before["item_id_emb"], after["item_id_emb"])


def test_dense_kernel_optimizer_lowers_the_loss() -> None:
    wrapped, optimizer, batch = shard(config_with("partial_rowwise_lamb_optimizer", width=6, lr=0.01))
    losses = [step(wrapped, optimizer, batch) for _ in range(15)]
    assert losses[-1] < losses[0]


def test_width_6_cannot_be_forced_onto_a_fused_sharding() -> None:
    config = config_with("adagrad_optimizer", width=6)
    edit_config(config, {"train_config.global_embedding_constraints": {"sharding_types": ["table_wise"]}})
    device, _, _ = init_process_group()
    features, _ = build_features(config)
    model = build_model(config, features, device=torch.device("meta"))
    spec = sparse_optimizer_spec(config.train_config.sparse_optimizer)
    with pytest.raises(ConfigError, match=r"global_embedding_constraints.sharding_types.*'user_id_emb'.*user_id.*not a multiple of 4"):
        shard_model(TrainWrapper(model), device, 256, spec, config.train_config.global_embedding_constraints)


def test_shared_table_must_agree_on_trainable() -> None:
    config = config_with("adagrad_optimizer", frozen=("user_id",))
    edit_config(config, {"feature_configs[1].id_feature.embedding_name": "user_id_emb"})
    edit_config(config, {"feature_configs[1].id_feature.hash_bucket_size": 20000})
    features, _ = build_features(config)
    model = build_model(config, features, device=torch.device("meta"))
    with pytest.raises(ConfigError, match=r"'user_id_emb' \(user_id, item_id\) disagree on trainable"):
        frozen_tables(model)


def test_dense_kernel_optimizer_state_survives_a_checkpoint(tmp_path: Path) -> None:
    from rec_dist.checkpoint import load_checkpoint, save_checkpoint

    config = config_with("partial_rowwise_lamb_optimizer", width=6, lr=0.01)
    wrapped, optimizer, batch = shard(config)
    for _ in range(2):
        step(wrapped, optimizer, batch)
    saved = save_checkpoint(str(tmp_path), 2, wrapped, optimizer, {}, rank=0)
    restored, fresh_optimizer, _ = shard(config)
    fresh_optimizer.init_state()
    load_checkpoint(saved, restored, fresh_optimizer)
    state = {k: v for k, v in optimizer.state_dict()["state"].items() if "user_id_emb." in k}
    assert state and all(set(s) == {"step", "momentum1", "momentum2"} for s in state.values())
    for key, values in state.items():
        for name, value in values.items():
            torch.testing.assert_close(fresh_optimizer.state_dict()["state"][key][name], value, msg=f"{key} {name}")
    # both continue identically
    step(wrapped, optimizer, batch)
    step(restored, fresh_optimizer, batch)
    for name, value in tables(wrapped).items():
        torch.testing.assert_close(tables(restored)[name], value, msg=name)


def test_embedding_l2_decays_rows_the_batch_never_looked_up() -> None:
    # Adagrad has a fused CPU kernel; the whole-table L2 moves its tables to the dense kernel
    config = config_with("adagrad_optimizer", lr=0.05)
    config.train_config.sparse_optimizer.embedding_l2_regularization = 0.5
    wrapped, optimizer, batch = shard(config)
    assert set(kernels(wrapped).values()) == {"dense"}
    kjt = next(kjt for kjt in batch.sparse_features.values() if "user_id" in kjt.keys())
    unseen = torch.tensor(sorted(set(range(20000)) - set(kjt["user_id"].values().tolist())))
    before = tables(wrapped)["user_id_emb"]
    step(wrapped, optimizer, batch)
    after = tables(wrapped)["user_id_emb"]
    # Adagrad's first step on the penalty's gradient g = lambda * w alone
    g = 0.5 * before[unseen]
    assert torch.allclose(after[unseen], before[unseen] - 0.05 * g / (g.abs() + 1e-8), atol=1e-6)

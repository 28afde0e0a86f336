"""Zero-collision hashing in model tables: raw ids remapped by TorchRec managed-collision modules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from google.protobuf import text_format
from torchrec.modules.mc_embedding_modules import ManagedCollisionEmbeddingBagCollection, ManagedCollisionEmbeddingCollection
from torchrec.modules.mc_modules import MCHManagedCollisionModule

from rec_core.batch import BASE_DATA_GROUP
from rec_core.protos import model_pb2
from rec_features.features import FG_NONE
from rec_features.parser import FeatureParser
from rec_features.testing import build_feature
from rec_models.embedding_group import EmbeddingGroup
from rec_models.testing import GraphType, build_from_config, create_test_module
from rec_models.wrappers import ScriptWrapper, TrainWrapper

BIG = 10**15  # raw ids far beyond any table


def zch_group(zch: str, group_type: str = "DEEP") -> EmbeddingGroup:
    feature = build_feature(f'id_feature {{ feature_name: "u" expression: "user:u" embedding_dim: 4 zch {{ {zch} }} }}', FG_NONE)
    config = text_format.Parse(f'feature_groups {{ group_name: "g" feature_names: ["u"] group_type: {group_type} }}', model_pb2.ModelConfig())
    return EmbeddingGroup([feature], list(config.feature_groups))


def batch_of(eg: EmbeddingGroup, ids: list[int]):  # type: ignore[no-untyped-def]
    return FeatureParser(list(eg._by_name.values()))(pa.record_batch({"u": pa.array(ids, pa.int64())}))


def rows(eg: EmbeddingGroup, ids: list[int]) -> list[int]:
    """The table row each raw id reads now (eval mode: looking up admits and evicts nothing)."""
    training = eg.training
    eg.eval()
    kjt = batch_of(eg, ids).sparse_features[BASE_DATA_GROUP]
    remapped = eg.mc_ebc._managed_collision_collection(kjt)
    eg.train(training)
    return remapped["u"].values().tolist()


def train_steps(eg: EmbeddingGroup, *batches: list[int]) -> None:
    eg.train()
    for ids in batches:
        eg(batch_of(eg, ids))


def test_zch_tables_are_managed_collision_collections() -> None:
    eg = zch_group("zch_size: 8")
    assert isinstance(eg.mc_ebc, ManagedCollisionEmbeddingBagCollection) and eg.ebc is None
    sequence = build_feature('sequence_id_feature { feature_name: "s" expression: "user:s" embedding_dim: 4 sequence_length: 3 zch { zch_size: 8 } }', FG_NONE)
    config = text_format.Parse('feature_groups { group_name: "q" feature_names: ["s"] group_type: SEQUENCE }', model_pb2.ModelConfig())
    seq = EmbeddingGroup([sequence], list(config.feature_groups))
    assert isinstance(seq.ecs["mc_4"], ManagedCollisionEmbeddingCollection)
    out = seq(FeatureParser([sequence])(pa.record_batch({"s": pa.array([f"{BIG};{BIG + 1}", f"{BIG + 2}"])})))
    assert out["q.sequence"].shape == (2, 2, 4) and out["q.sequence_length"].tolist() == [2, 1]


def test_ids_beyond_the_table_map_into_it_and_keep_their_row() -> None:
    eg = zch_group("zch_size: 16 eviction_interval: 1")
    ids = [BIG + 7 * i for i in range(10)] + [2**62 + 5]
    train_steps(eg, ids)
    first = rows(eg, ids)
    assert all(0 <= r < 16 for r in first)
    assert len(set(first)) == len(ids), "distinct ids admitted into a table with room do not collide"
    train_steps(eg, ids[:4], ids[5:], ids)
    assert rows(eg, ids) == first
    # an id never seen reads the reserved last row, which no admitted id uses
    assert rows(eg, [BIG + 1]) == [15] and 15 not in first


# b1 admits 1, 2 and (k times) 3; b2 sees 1, 2 again; b3 brings 4 twice into a 3-slot table
# (a zch_size 4 table keeps its last row for unknown ids), so one of 3 / 4 must go.
@pytest.mark.parametrize(
    ("policy", "k", "keeps_3"),
    [
        ("lfu {}", 5, True),  # 3 was seen 5 times, 4 only twice
        ("lru {}", 5, False),  # 3 was last seen two steps ago, 4 now
        ("lru {}", 20, False),
        ("distance_lfu { decay_exponent: 1 }", 5, False),  # 5 / 3 steps < 2 / 1 step
        ("distance_lfu { decay_exponent: 1 }", 20, True),  # 20 / 3 steps > 2 / 1 step
    ],
)
def test_eviction_policies(policy: str, k: int, keeps_3: bool) -> None:
    eg = zch_group(f"zch_size: 4 eviction_interval: 1 {policy}")
    one, two, three, four = BIG + 1, BIG + 2, BIG + 3, BIG + 4
    train_steps(eg, [one, two] + [three] * k, [one, two])
    before = rows(eg, [one, two, three])
    assert sorted(before) == [0, 1, 2]
    train_steps(eg, [one, two, four, four])
    after = rows(eg, [one, two, three, four])
    assert after[:2] == before[:2], "ids seen every step keep their rows"
    if keeps_3:
        assert after[2:] == [before[2], 3]  # 4 stays out: the reserved row
    else:
        assert after[2:] == [3, before[2]]  # 4 takes over the row 3 held


def test_weighted_zch_feature_pools_its_rows_by_weight() -> None:
    feature = build_feature('id_feature { feature_name: "w" expression: "user:w" embedding_dim: 4 weighted: true zch { zch_size: 8 eviction_interval: 1 } }', FG_NONE)
    config = text_format.Parse('feature_groups { group_name: "g" feature_names: ["w"] group_type: DEEP }', model_pb2.ModelConfig())
    eg = EmbeddingGroup([feature], list(config.feature_groups))
    batch = FeatureParser([feature])(pa.record_batch({"w": pa.array([f"{BIG}:2\x03{BIG + 1}:0.5", f"{BIG}:1"])}))
    out = eg(batch)["g"]
    mc = eg.mc_weighted_ebc
    row = mc._managed_collision_collection(batch.sparse_features[BASE_DATA_GROUP])["w"].values()
    table = mc._embedding_module.embedding_bags["w_emb"].weight
    assert row[0] == row[2] != row[1]
    torch.testing.assert_close(out, torch.stack([2 * table[row[0]] + 0.5 * table[row[1]], table[row[0]]]))


def test_eviction_waits_for_the_interval() -> None:
    eg = zch_group("zch_size: 4 eviction_interval: 3 lfu {}")
    train_steps(eg, [BIG], [BIG])
    assert rows(eg, [BIG]) == [3], "not admitted before the interval has passed"
    train_steps(eg, [BIG])
    assert rows(eg, [BIG]) != [3]


FEATURES = """
data_config { batch_size: 256 fg_mode: FG_NONE label_fields: "label" }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 zch { zch_size: 64 eviction_interval: 1 lru {} } } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 } }
model_config {
    feature_groups { group_name: "wide" feature_names: ["user_id", "item_id"] group_type: WIDE }
    feature_groups { group_name: "deep" feature_names: ["user_id", "item_id"] group_type: DEEP }
    deepfm { deep { hidden_units: [16] } wide_embedding_dim: 4 }
    metrics { auc {} }
    losses { binary_cross_entropy {} }
}
"""


def synthetic_rows(n: int = 256, seed: int = 0) -> pa.RecordBatch:
    """40 raw user ids far beyond the table; the label is the user's parity."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 40, n)
    return pa.record_batch(
        {"user_id": pa.array(BIG + users), "item_id": pa.array(rng.integers(0, 30, n)), "label": pa.array((users % 2).astype(np.float32))}
    )


@pytest.fixture
def model_and_parser(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "pipeline.config"
    path.write_text(FEATURES)
    return build_from_config(path)


@pytest.mark.usefixtures("one_thread")
def test_loss_falls_with_zch_tables(model_and_parser) -> None:  # type: ignore[no-untyped-def]
    model, parser = model_and_parser
    batch = parser(synthetic_rows())
    wrapper = TrainWrapper(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        total, _ = wrapper(batch)
        total.backward()
        optimizer.step()
        losses.append(float(total.detach()))
    assert losses[-1] < 0.3 * losses[0], losses
    table = model.embedding_group.mc_ebc._embedding_module.embedding_bags["user_id_emb"].weight
    assert table.shape == (64, 8)


@pytest.mark.slow
def test_export_forms_keep_the_remapping(model_and_parser) -> None:  # type: ignore[no-untyped-def]
    model, parser = model_and_parser
    batch = parser(synthetic_rows(64, seed=1))
    model.train()
    model.predict(batch)  # admits the users
    model.eval()
    data = batch.to_dict()
    with torch.no_grad():
        expected = model.predict(batch)["probs"]
        for graph_type in (GraphType.EAGER, GraphType.FX_TRACE, GraphType.JIT_SCRIPT):
            out = create_test_module(ScriptWrapper(model), graph_type)(data)["probs"]
            torch.testing.assert_close(out, expected, rtol=0, atol=0, msg=str(graph_type))
        # forgetting the admitted ids changes the prediction: the export reads the remapping state
        for module in model.modules():
            if isinstance(module, MCHManagedCollisionModule):
                module._mch_sorted_raw_ids.fill_(torch.iinfo(torch.int64).max)
        assert not torch.equal(create_test_module(ScriptWrapper(model), GraphType.JIT_SCRIPT)(data)["probs"], expected)

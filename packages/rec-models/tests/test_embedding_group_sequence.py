"""EmbeddingGroup over sequences: every output tensor rebuilt by hand from the table rows.

Batches are built directly in the contract's form (rec_core.batch): sequence ids in the
sparse KJT with elements per row as lengths, per-element id counts of multi-value sequences
in sequence_mulval_lengths, raw sequences in sequence_dense_features.
"""

from typing import Dict

import pyarrow as pa
import pytest
import torch
from google.protobuf import text_format
from torch import nn
from torchrec.sparse.jagged_tensor import JaggedTensor, KeyedJaggedTensor, KeyedTensor

from rec_core.batch import BASE_DATA_GROUP, Batch
from rec_core.errors import ConfigError
from rec_core.protos import model_pb2, pipeline_pb2
from rec_features.features import FG_NONE, create_features
from rec_features.features.base import BaseFeature
from rec_features.parser import FeatureParser
from rec_models.embedding_group import EmbeddingGroup
from rec_models.testing import GraphType, create_test_module, tolerance
from rec_models.wrappers import ids_per_row


FEATURES = """
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 4 num_buckets: 10 embedding_name: "item" } }
feature_configs { id_feature { feature_name: "cate_id" expression: "item:cate_id" embedding_dim: 4 num_buckets: 5 embedding_name: "cate" pooling: "mean" } }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 2 num_buckets: 6 } }
feature_configs { raw_feature { feature_name: "d" expression: "user:d" value_dim: 2 } }
feature_configs {
    sequence_feature {
        sequence_name: "click"
        sequence_length: 3
        features { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 4 num_buckets: 10 embedding_name: "item" } }
        features { id_feature { feature_name: "cate_id" expression: "item:cate_id" embedding_dim: 4 num_buckets: 5 embedding_name: "cate" } }
        features { raw_feature { feature_name: "price" expression: "item:price" } }
    }
}
feature_configs {
    sequence_id_feature {
        feature_name: "tags" expression: "user:tags" sequence_length: 3 value_dim: 0 embedding_dim: 4 num_buckets: 6 pooling: "mean"
    }
}
feature_configs { id_feature { feature_name: "w" expression: "user:w" embedding_dim: 4 num_buckets: 4 weighted: true } }
"""


def features(extra: str = "") -> list[BaseFeature]:
    cfg = text_format.Parse(FEATURES + extra, pipeline_pb2.EasyRecConfig())
    return create_features(cfg.feature_configs, FG_NONE)


# per row; row 2's click sequence (4 elements) is longer than its sequence_length 3
SPARSE = {
    "item_id": [[1], [2], []],
    "cate_id": [[0], [4], [3]],
    "user_id": [[5], [0], [1]],
    "click__item_id": [[3, 4], [], [5, 6, 7, 8]],
    "click__cate_id": [[1, 2], [], [0, 1, 2, 3]],
    "tags": [[1, 2, 3], [], [4, 5, 0]],  # elements [[1, 2], [3]], [], [[4], [], [5, 0]]
    "w": [[1], [], [2]],
}
TAG_COUNTS = [2, 1, 1, 0, 2]
TAG_ELEMENTS = [2, 0, 3]
PRICES = [[0.5, 1.5], [], [1.0, 2.0, 3.0, 4.0]]
DENSE = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


def make_batch(**changed: list[list[int]]) -> Batch:
    batch = Batch(batch_size=3)
    sparse = {**SPARSE, **changed}
    batch.sparse_features[BASE_DATA_GROUP] = KeyedJaggedTensor(
        keys=list(sparse),
        values=torch.tensor([i for rows in sparse.values() for row in rows for i in row]),
        lengths=torch.tensor([len(row) for rows in sparse.values() for row in rows], dtype=torch.int32),
        weights=torch.ones(sum(len(row) for rows in sparse.values() for row in rows)),
    )
    batch.sequence_mulval_lengths[BASE_DATA_GROUP] = KeyedJaggedTensor(
        keys=["tags"], values=torch.tensor(TAG_COUNTS, dtype=torch.int32), lengths=torch.tensor(TAG_ELEMENTS, dtype=torch.int32)
    )
    batch.sequence_dense_features["click__price"] = JaggedTensor(
        values=torch.tensor([p for row in PRICES for p in row]).unsqueeze(1),
        lengths=torch.tensor([len(row) for row in PRICES], dtype=torch.int32),
    )
    batch.dense_features[BASE_DATA_GROUP] = KeyedTensor(keys=["d"], length_per_key=[2], values=torch.tensor(DENSE))
    return batch


def build(text: str) -> EmbeddingGroup:
    torch.manual_seed(0)
    groups = list(text_format.Parse(text, model_pb2.ModelConfig()).feature_groups)
    return EmbeddingGroup(features(), groups)


def rows(eg: EmbeddingGroup, table: str) -> torch.Tensor:
    for ec in eg.ecs.values():
        if table in ec.embeddings:
            return ec.embeddings[table].weight.detach()
    raise KeyError(table)


SEQ_GROUP = """
    feature_groups {
        group_name: "seq"
        feature_names: ["item_id", "cate_id", "d", "click__item_id", "click__cate_id", "click__price", "tags"]
        group_type: SEQUENCE
    }
"""


class TestSequenceGroup:
    def test_outputs_are_the_table_rows_padded_and_truncated(self) -> None:
        eg = build(SEQ_GROUP)
        out = eg(make_batch())
        item, cate, tags = rows(eg, "item"), rows(eg, "cate"), rows(eg, "tags_emb")
        z4 = torch.zeros(4)
        expected_query = torch.stack(
            [
                torch.cat([item[1], cate[0], torch.tensor([1.0, 2.0])]),
                torch.cat([item[2], cate[4], torch.tensor([3.0, 4.0])]),
                torch.cat([z4, cate[3], torch.tensor([5.0, 6.0])]),  # no item id: zeros
            ]
        )
        torch.testing.assert_close(out["seq.query"].detach(), expected_query)

        def step(i: int, c: int, price: float, tag: torch.Tensor) -> torch.Tensor:
            return torch.cat([item[i], cate[c], torch.tensor([price]), tag])

        pad = torch.zeros(13)
        expected = torch.stack(
            [
                torch.stack([step(3, 1, 0.5, (tags[1] + tags[2]) / 2), step(4, 2, 1.5, tags[3]), pad]),
                torch.stack([pad, pad, pad]),
                # the 4th click is cut at sequence_length 3; an element without ids embeds to zeros
                torch.stack([step(5, 0, 1.0, tags[4]), step(6, 1, 2.0, z4), step(7, 2, 3.0, (tags[5] + tags[0]) / 2)]),
            ]
        )
        torch.testing.assert_close(out["seq.sequence"].detach(), expected)
        assert out["seq.sequence_length"].tolist() == [2, 0, 3]
        assert eg.group_dims("seq.query") == [4, 4, 2] and eg.group_total_dim("seq.sequence") == 13
        assert eg.group_total_dim("seq") == 23 and eg.has_group("seq.query") and eg.is_sequence_group("seq")

    def test_parsed_rows_give_the_same_tensors(self) -> None:
        # the same rows as FG-encoded columns through the real parser (which cuts row 2 itself)
        eg = build(SEQ_GROUP)
        rows = pa.record_batch(
            {
                "item_id": pa.array([1, 2, None]),
                "cate_id": pa.array([0, 4, 3]),
                "user_id": pa.array([5, 0, 1]),
                "d": pa.array(DENSE, pa.list_(pa.float32())),
                "click__item_id": pa.array(SPARSE["click__item_id"], pa.list_(pa.int64())),
                "click__cate_id": pa.array(SPARSE["click__cate_id"], pa.list_(pa.int64())),
                "click__price": pa.array(PRICES, pa.list_(pa.float32())),
                "tags": pa.array([[[1, 2], [3]], [], [[4], [], [5, 0]]], pa.list_(pa.list_(pa.int64()))),
                "w": pa.array(["1:1", None, "2:1"]),
            }
        )
        parsed = FeatureParser(features())(rows)
        with torch.no_grad():
            expected, out = eg(make_batch()), eg(parsed)
        assert set(out) == set(expected)
        for key, value in expected.items():
            torch.testing.assert_close(out[key], value, msg=key, check_dtype=False)

    def test_pads_only_to_the_longest_row(self) -> None:
        eg = build('feature_groups { group_name: "s" feature_names: ["item_id", "click__item_id"] group_type: SEQUENCE }')
        out = eg(make_batch(click__item_id=[[], [9], []]))
        assert out["s.sequence"].shape == (3, 1, 4)
        torch.testing.assert_close(out["s.sequence"][1, 0].detach(), rows(eg, "item")[9])

    def test_all_sequences_empty(self) -> None:
        eg = build('feature_groups { group_name: "s" feature_names: ["item_id", "click__item_id"] group_type: SEQUENCE }')
        batch = Batch(batch_size=2)
        batch.sparse_features[BASE_DATA_GROUP] = KeyedJaggedTensor(
            keys=["item_id", "click__item_id"], values=torch.tensor([1, 2]), lengths=torch.tensor([1, 1, 0, 0], dtype=torch.int32)
        )
        out = eg(batch)
        # one zero position, so encoders always see [B, T >= 1, D]
        assert out["s.sequence"].shape == (2, 1, 4) and not out["s.sequence"].any()
        assert out["s.sequence_length"].tolist() == [0, 0]

    def test_query_and_sequence_share_one_table(self) -> None:
        text = SEQ_GROUP + 'feature_groups { group_name: "deep" feature_names: ["item_id", "user_id"] group_type: DEEP }'
        eg = build(text)
        assert [t.name for ec in eg.ecs.values() for t in ec.embedding_configs()] == ["item", "cate", "tags_emb"]
        # a pooled feature whose table a sequence reads pools that table's rows
        assert eg.ebc is not None and [t.name for t in eg.ebc.embedding_bag_configs()] == ["user_id_emb"]
        out = eg(make_batch())
        item = rows(eg, "item")
        torch.testing.assert_close(out["deep"][:, :4].detach(), torch.stack([item[1], item[2], torch.zeros(4)]))
        (out["seq.query"].sum() + out["seq.sequence"].sum() + out["deep"].sum()).backward()
        grad = eg.ecs["4"].embeddings["item"].weight.grad
        # per row: 4 (query) + 4 (DEEP) for ids 1, 2; 4 per click; the cut click 8 gets nothing
        assert grad.sum(dim=1).tolist() == [0.0, 8.0, 8.0, 4.0, 4.0, 4.0, 4.0, 4.0, 0.0, 0.0]

    def test_mean_pooled_query_from_shared_rows(self) -> None:
        eg = build('feature_groups { group_name: "deep" feature_names: ["cate_id"] group_type: DEEP }' + SEQ_GROUP)
        batch = make_batch(cate_id=[[0, 2], [4], [3]])
        cate = rows(eg, "cate")
        torch.testing.assert_close(eg(batch)["deep"].detach(), torch.stack([(cate[0] + cate[2]) / 2, cate[4], cate[3]]))

    @pytest.mark.parametrize("with_sequence_group", [False, True])
    def test_sequence_in_a_deep_group_pools_its_elements(self, with_sequence_group: bool) -> None:
        # its own bag table alone; rows of the shared collection table when a sequence group reads it too
        text = 'feature_groups { group_name: "deep" feature_names: ["click__item_id"] group_type: DEEP }'
        eg = build(text + (SEQ_GROUP if with_sequence_group else ""))
        if with_sequence_group:
            assert eg.ebc is None
            table = rows(eg, "item")
        else:
            assert eg.ebc is not None and not eg.ecs
            table = eg.ebc.embedding_bags["item"].weight.detach()
        out = eg(make_batch(click__item_id=[[3, 4], [], [5, 6, 7]]))["deep"].detach()
        torch.testing.assert_close(out, torch.stack([table[3] + table[4], torch.zeros(4), table[5] + table[6] + table[7]]))

    def test_jagged_sequence_group(self) -> None:
        eg = build('feature_groups { group_name: "j" feature_names: ["item_id", "click__item_id", "click__price"] group_type: JAGGED_SEQUENCE }')
        out = eg(make_batch())
        item = rows(eg, "item")
        ids, prices = [3, 4, 5, 6, 7, 8], [0.5, 1.5, 1.0, 2.0, 3.0, 4.0]
        expected = torch.cat([item[ids], torch.tensor(prices).unsqueeze(1)], dim=1)
        torch.testing.assert_close(out["j.sequence"].detach(), expected)
        assert out["j.sequence_length"].tolist() == [2, 0, 4]

    def test_embedding_name_suffix_gives_own_tables(self) -> None:
        text = """
            feature_groups { group_name: "s" feature_names: ["item_id", "click__item_id"] group_type: SEQUENCE }
            feature_groups { group_name: "t" feature_names: ["item_id", "click__item_id"] group_type: SEQUENCE embedding_name_suffix: "x" }
            feature_groups { group_name: "deep" feature_names: ["item_id"] group_type: DEEP embedding_name_suffix: "y" }
            feature_groups { group_name: "wide" feature_names: ["item_id"] group_type: WIDE embedding_name_suffix: "y" }
        """
        eg = build(text)
        assert [t.name for t in eg.ecs["4"].embedding_configs()] == ["item", "item_x"]
        assert eg.ebc is not None and [t.name for t in eg.ebc.embedding_bag_configs()] == ["item_y"]
        assert eg.wide_ebc is not None and [t.name for t in eg.wide_ebc.embedding_bag_configs()] == ["item_wide_y"]
        out = eg(make_batch())
        torch.testing.assert_close(out["t.query"][0].detach(), rows(eg, "item_x")[1])
        torch.testing.assert_close(out["deep"][0].detach(), eg.ebc.embedding_bags["item_y"].weight[1].detach())


DEEP_WITH_ENCODERS = """
    feature_groups {
        group_name: "deep"
        feature_names: ["user_id"]
        group_type: DEEP
        sequence_groups { feature_names: ["click__item_id", "click__price"] }
        sequence_encoders { pooling_encoder { pooling_type: "sum" } }
        sequence_encoders { pooling_encoder { pooling_type: "mean" max_seq_length: 1 } }
    }
"""


class TestDeepGroupWithSequenceEncoders:
    def test_encoders_follow_the_pooled_features(self) -> None:
        eg = build(DEEP_WITH_ENCODERS)
        out = eg(make_batch())
        assert eg.group_dims("deep") == [2, 5, 5]
        item, user = rows(eg, "item"), eg.ebc.embedding_bags["user_id_emb"].weight.detach()  # type: ignore[union-attr]
        def click(i: int, p: float) -> torch.Tensor:
            return torch.cat([item[i], torch.tensor([p])])
        total = [click(3, 0.5) + click(4, 1.5), torch.zeros(5), click(5, 1.0) + click(6, 2.0) + click(7, 3.0)]
        first = [click(3, 0.5), torch.zeros(5), click(5, 1.0)]
        expected = torch.stack([torch.cat([user[u], total[r], first[r]]) for r, u in enumerate([5, 0, 1])])
        torch.testing.assert_close(out["deep"].detach(), expected)
        # the single unnamed sequence group takes the group's name
        assert out["deep.sequence"].shape == (3, 3, 5) and "deep.query" not in out

    def test_named_sequence_groups_and_encoder_inputs(self) -> None:
        text = """
            feature_groups {
                group_name: "deep" feature_names: ["user_id"] group_type: DEEP
                sequence_groups { group_name: "a" feature_names: ["item_id", "click__item_id"] }
                sequence_groups { group_name: "b" feature_names: ["click__price"] }
                sequence_encoders { din_encoder { input: "a" attn_mlp { hidden_units: [8] } } }
                sequence_encoders { pooling_encoder { input: "b" } }
            }
        """
        eg = build(text)
        assert eg.group_dims("deep") == [2, 4, 1]
        out = eg(make_batch())
        assert out["deep"].shape == (3, 7) and out["a.query"].shape == (3, 4) and out["b.sequence"].shape == (3, 3, 1)

    def test_nested_group_with_its_own_suffix_keeps_the_pooled_table(self) -> None:
        text = """
            feature_groups {
                group_name: "deep" feature_names: ["item_id"] group_type: DEEP
                sequence_groups { feature_names: ["item_id", "click__item_id"] embedding_name_suffix: "h" }
                sequence_encoders { pooling_encoder { pooling_type: "sum" } }
            }
        """
        eg = build(text)
        # the DEEP group's item_id pools table `item`; the history group reads its own `item_h`
        assert eg.ebc is not None and [t.name for t in eg.ebc.embedding_bag_configs()] == ["item"]
        assert [t.name for t in eg.ecs["4"].embedding_configs()] == ["item_h"]
        out = eg(make_batch())
        torch.testing.assert_close(out["deep"][0, :4].detach(), eg.ebc.embedding_bags["item"].weight[1].detach())
        torch.testing.assert_close(out["deep.query"][0].detach(), rows(eg, "item_h")[1])

    @pytest.mark.parametrize(
        ("body", "match"),
        [
            ('sequence_groups { feature_names: ["click__item_id"] }', r"feature_groups\[0\].sequence_encoders: .*together"),
            ('sequence_encoders { pooling_encoder { input: "deep" } }', r"feature_groups\[0\].sequence_groups: .*together"),
            (
                'sequence_groups { feature_names: ["click__item_id"] } sequence_groups { group_name: "b" feature_names: ["tags"] }'
                ' sequence_encoders { pooling_encoder { input: "b" } }',
                r"sequence_groups\[0\].group_name: .*each needs a group_name",
            ),
            (
                'sequence_groups { group_name: "a" feature_names: ["click__item_id"] } sequence_encoders { pooling_encoder { input: "z" } }',
                r"sequence_encoders\[0\].pooling_encoder.input: 'z' is not one of .*\['a'\]",
            ),
            (
                'sequence_groups { group_name: "a" feature_names: ["click__item_id"] } sequence_groups { group_name: "b" feature_names: ["tags"] }'
                ' sequence_encoders { pooling_encoder { input: "a" } }',
                r"feature_groups\[0\].sequence_encoders: sequence group\(s\) \['b'\] have no encoder",
            ),
            (
                'sequence_groups { feature_names: ["click__item_id"] } sequence_encoders { din_encoder { attn_mlp { hidden_units: [4] } } }',
                r"sequence_encoders\[0\].din_encoder: target attention needs query features",
            ),
            (
                'sequence_groups { feature_names: ["user_id", "click__item_id"] } sequence_encoders { simple_attention {} }',
                r"sequence_encoders\[0\].simple_attention: query width 2 must equal sequence width 4",
            ),
        ],
    )
    def test_config_errors(self, body: str, match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            build(f'feature_groups {{ group_name: "deep" feature_names: ["user_id"] group_type: DEEP {body} }}')


class TestConfigErrors:
    @pytest.mark.parametrize(
        ("text", "match"),
        [
            (
                'feature_groups { group_name: "g" feature_names: ["click__price"] group_type: DEEP }',
                r"feature_groups\[0\].feature_names\[0\]: 'click__price' is a dense sequence",
            ),
            (
                'feature_groups { group_name: "g" feature_names: ["w", "click__item_id"] group_type: SEQUENCE }',
                r"feature_groups\[0\].feature_names\[0\]: weighted feature 'w' cannot be in a sequence group",
            ),
            (
                'feature_groups { group_name: "g" feature_names: ["click__item_id"] group_type: SEQUENCE sequence_encoders { pooling_encoder {} } }',
                r"feature_groups\[0\].sequence_groups: .*belong to DEEP groups",
            ),
            (
                'feature_groups { group_name: "g" feature_names: ["user_id"] group_type: DEEP }'
                'feature_groups { group_name: "g" feature_names: ["click__item_id"] group_type: SEQUENCE }',
                r"feature_groups\[1\].group_name: group name 'g' is used twice",
            ),
        ],
    )
    def test_config_errors(self, text: str, match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            build(text)

    def test_shared_table_needs_one_width(self) -> None:
        odd = 'feature_configs { sequence_id_feature { feature_name: "odd" expression: "user:o" embedding_dim: 8 num_buckets: 10 embedding_name: "item" } }'
        groups = text_format.Parse(
            'feature_groups { group_name: "s" feature_names: ["item_id", "odd"] group_type: SEQUENCE }', model_pb2.ModelConfig()
        ).feature_groups
        with pytest.raises(ConfigError, match=r"feature 'odd'.embedding_name: shares table 'item' but its rows=10, dim=8 differ"):
            EmbeddingGroup(features(odd), list(groups))


class FlatInput(nn.Module):
    """Flat tensors -> Batch -> group tensors: the embedding group as an exported model runs it."""

    def __init__(self, eg: EmbeddingGroup) -> None:
        super().__init__()
        self.eg = eg

    def forward(self, data: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:  # noqa: UP006
        batch = Batch()
        keys = ["item_id", "cate_id", "user_id", "click__item_id", "click__cate_id", "tags"]
        batch.sparse_features[BASE_DATA_GROUP] = KeyedJaggedTensor(
            keys=keys,
            values=torch.cat([data[k + ".values"] for k in keys]),
            lengths=torch.cat(
                [ids_per_row(data[k + ".lengths"], data[k + ".key_lengths"]) if k == "tags" else data[k + ".lengths"] for k in keys]
            ),
        )
        batch.sequence_mulval_lengths[BASE_DATA_GROUP] = KeyedJaggedTensor(
            keys=["tags"], values=data["tags.key_lengths"], lengths=data["tags.lengths"]
        )
        batch.sequence_dense_features["click__price"] = JaggedTensor(
            values=data["click__price.values"], lengths=data["click__price.lengths"]
        )
        batch.dense_features[BASE_DATA_GROUP] = KeyedTensor(keys=["d"], length_per_key=[2], values=data["d"])
        return self.eg(batch)


@pytest.mark.slow
def test_every_graph_form_gives_the_same_tensors() -> None:
    text = SEQ_GROUP + DEEP_WITH_ENCODERS + (
        'feature_groups { group_name: "j" feature_names: ["item_id", "click__item_id"] group_type: JAGGED_SEQUENCE }'
    )
    eg = build(text)
    batch = make_batch()
    data = batch.to_dict()
    assert data["tags.lengths"].tolist() == TAG_ELEMENTS
    expected = eg(batch)
    with torch.no_grad():
        for graph_type in GraphType:
            out = create_test_module(FlatInput(eg), graph_type, example_inputs=(data,))(data)
            assert set(out) == set(expected), graph_type
            tol = tolerance(graph_type)
            for key, value in expected.items():
                torch.testing.assert_close(out[key], value.detach(), rtol=tol, atol=tol, msg=f"{graph_type} {key}")

"""EmbeddingGroup: group tensors are exactly the pooled table rows and dense values, in order."""

import pyarrow as pa
import pytest
import torch
from google.protobuf import text_format

from rec_core.errors import ConfigError
from rec_core.protos import model_pb2
from rec_features.features import FG_NONE
from rec_features.parser import FeatureParser
from rec_features.testing import build_feature
from rec_models.embedding_group import EmbeddingGroup

FEATURES = [
    'id_feature { feature_name: "a" expression: "user:a" embedding_dim: 3 num_buckets: 5 init_fn: "nn.init.normal_" }',
    'id_feature { feature_name: "b" expression: "user:b" embedding_dim: 3 num_buckets: 5 embedding_name: "shared" }',
    'id_feature { feature_name: "c" expression: "user:c" embedding_dim: 3 num_buckets: 5 embedding_name: "shared" }',
    'id_feature { feature_name: "m" expression: "user:m" embedding_dim: 3 num_buckets: 5 pooling: "mean" }',
    'id_feature { feature_name: "w" expression: "user:w" embedding_dim: 2 num_buckets: 4 weighted: true }',
    'raw_feature { feature_name: "d" expression: "user:d" value_dim: 2 }',
]


def groups(text: str) -> list[model_pb2.FeatureGroupConfig]:
    cfg = text_format.Parse(text, model_pb2.ModelConfig())
    return list(cfg.feature_groups)


def setup(group_text: str, rows: dict[str, pa.Array], **kwargs: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    features = [build_feature(t, FG_NONE) for t in FEATURES]
    eg = EmbeddingGroup(features, groups(group_text), **kwargs)  # type: ignore[arg-type]
    batch = FeatureParser(features)(pa.record_batch(rows))
    return eg, batch


ROWS = {
    "a": pa.array([1, None, 4]),
    "b": pa.array(["0\x032", "", "3"]),
    "c": pa.array(["0\x032", "1", None]),
    "m": pa.array(["0\x032", "1", None]),
    "w": pa.array(["1:0.5\x033:2", "2", None]),
    "d": pa.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], pa.list_(pa.float32())),
}


def table(eg: EmbeddingGroup, name: str) -> torch.Tensor:
    """A table's weights, wherever it lives (weighted features have their own collections)."""
    for ebc in (eg.ebc, eg.weighted_ebc, eg.wide_ebc, eg.weighted_wide_ebc):
        if ebc is not None and name in ebc.embedding_bags:
            return ebc.embedding_bags[name].weight
    raise KeyError(name)


class TestDeep:
    def test_concatenation_matches_manual_pooling(self) -> None:
        text = 'feature_groups { group_name: "g" feature_names: ["d", "a", "b", "c", "m", "w"] group_type: DEEP }'
        eg, batch = setup(text, ROWS)
        out = eg(batch)["g"].detach()
        assert out.shape == (3, 2 + 3 + 3 + 3 + 3 + 2)
        assert eg.group_dims("g") == [2, 3, 3, 3, 3, 2] and eg.group_total_dim("g") == 16
        a, shared, m, w = (table(eg, n).detach() for n in ("a_emb", "shared", "m_emb", "w_emb"))
        assert eg.weighted_ebc is not None and list(eg.weighted_ebc.embedding_bags) == ["w_emb"]
        zero3, zero2 = torch.zeros(3), torch.zeros(2)
        d1, d2, d3 = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]), torch.tensor([5.0, 6.0])
        expected = torch.stack(
            [
                torch.cat([d1, a[1], shared[0] + shared[2], shared[0] + shared[2], (m[0] + m[2]) / 2, 0.5 * w[1] + 2 * w[3]]),
                torch.cat([d2, zero3, zero3, shared[1], m[1], w[2]]),
                torch.cat([d3, a[4], shared[3], zero3, zero3, zero2]),
            ]
        )
        torch.testing.assert_close(out, expected)

    def test_shared_embedding_name_is_one_table(self) -> None:
        eg, _ = setup('feature_groups { group_name: "g" feature_names: ["b", "c"] group_type: DEEP }', ROWS)
        assert eg.ebc is not None
        assert list(eg.ebc.embedding_bags) == ["shared"]

    def test_dense_only_group_has_no_tables(self) -> None:
        eg, batch = setup('feature_groups { group_name: "g" feature_names: ["d"] group_type: DEEP }', ROWS)
        assert eg.ebc is None and eg.wide_ebc is None
        assert eg(batch)["g"].tolist() == [[1, 2], [3, 4], [5, 6]]


class TestWide:
    def test_wide_tables_are_separate_and_narrow(self) -> None:
        text = """
            feature_groups { group_name: "wide" feature_names: ["a", "w"] group_type: WIDE }
            feature_groups { group_name: "deep" feature_names: ["a"] group_type: DEEP }
        """
        eg, batch = setup(text, ROWS, wide_embedding_dim=1, wide_init_fn="nn.init.constant_,val=0.25")
        assert eg.wide_ebc is not None and eg.weighted_wide_ebc is not None
        assert list(eg.wide_ebc.embedding_bags) == ["a_emb_wide"]
        assert list(eg.weighted_wide_ebc.embedding_bags) == ["w_emb_wide"]
        assert eg.group_dims("wide") == [1, 1]
        out = eg(batch)
        # every wide row is 0.25 (wide_init_fn), pooled with the row's weights
        assert out["wide"].detach().tolist() == [[0.25, 0.25 * 2.5], [0.0, 0.25], [0.25, 0.0]]
        assert out["deep"].shape == (3, 3)

    def test_dense_feature_in_wide_group(self) -> None:
        with pytest.raises(ConfigError, match=r"feature_groups\[0\].feature_names\[0\].*WIDE"):
            setup('feature_groups { group_name: "wide" feature_names: ["d"] group_type: WIDE }', ROWS)


class TestErrors:
    def test_unknown_feature(self) -> None:
        with pytest.raises(ConfigError, match=r"model_config.feature_groups\[0\].feature_names\[1\].*'zz'"):
            setup('feature_groups { group_name: "g" feature_names: ["a", "zz"] group_type: DEEP }', ROWS)

    def test_empty_group(self) -> None:
        with pytest.raises(ConfigError, match=r"feature_groups\[0\].feature_names"):
            setup('feature_groups { group_name: "g" group_type: DEEP }', ROWS)

    def test_sequence_group_without_sequence_features(self) -> None:
        with pytest.raises(ConfigError, match=r"feature_groups\[0\].feature_names: sequence group 'g' has no sequence feature"):
            setup('feature_groups { group_name: "g" feature_names: ["a"] group_type: SEQUENCE }', ROWS)

    def test_unknown_group_lists_groups(self) -> None:
        eg, _ = setup('feature_groups { group_name: "g" feature_names: ["a"] group_type: DEEP }', ROWS)
        assert eg.has_group("g") and not eg.has_group("h")
        with pytest.raises(ConfigError, match="'h'.*groups: \\['g'\\]"):
            eg.group_dims("h")

    def test_weighted_mean_pooling_is_refused(self) -> None:
        features = [build_feature('id_feature { feature_name: "w" expression: "user:w" embedding_dim: 2 num_buckets: 4 weighted: true pooling: "mean" }')]
        with pytest.raises(ConfigError, match="feature 'w'.pooling"):
            EmbeddingGroup(features, groups('feature_groups { group_name: "g" feature_names: ["w"] group_type: DEEP }'))

    def test_weighted_and_unweighted_cannot_share_a_table(self) -> None:
        features = [
            build_feature('id_feature { feature_name: "w" expression: "user:w" embedding_dim: 2 num_buckets: 4 weighted: true embedding_name: "t" }'),
            build_feature('id_feature { feature_name: "u" expression: "user:u" embedding_dim: 2 num_buckets: 4 embedding_name: "t" }'),
        ]
        with pytest.raises(ConfigError, match="feature 'w'.embedding_name.*'u'"):
            EmbeddingGroup(features, groups('feature_groups { group_name: "g" feature_names: ["w", "u"] group_type: DEEP }'))

    def test_gradients_reach_the_tables(self) -> None:
        eg, batch = setup('feature_groups { group_name: "g" feature_names: ["a", "w"] group_type: DEEP }', ROWS)
        eg(batch)["g"].sum().backward()
        grad = table(eg, "w_emb").grad
        # row 3 appears once with weight 2, row 1 once with weight 0.5
        assert grad[3].tolist() == [2.0, 2.0] and grad[1].tolist() == [0.5, 0.5] and grad[0].tolist() == [0.0, 0.0]

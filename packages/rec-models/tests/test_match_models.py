"""Match models on batches from rec's real samplers: data groups, similarity, learning, tower export.

Users like one of five item categories; a positive pair is a user with an item of that
category, so a two-tower model can learn to rank positives above sampled negatives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from rec_core.batch import BASE_DATA_GROUP, NEG_DATA_GROUP, Batch
from rec_core.config import load_pipeline_config
from rec_core.errors import ConfigError
from rec_core.protos import module_pb2
from rec_data.samplers import create_sampler
from rec_features.features import create_features
from rec_features.parser import FeatureParser
from rec_features.sampled import assign_data_groups, sampler_attr_fields
from rec_models.match_model import MatchModel, MatchTowerWrapper
from rec_models.modules.capsule import B2ICapsule, squash
from rec_models.model import create_model
from rec_models.testing import TRACE_FORMS, GraphType, aot_inductor_compile, create_test_module, pipeline_trace
from rec_models.wrappers import TrainWrapper

N_USERS, N_ITEMS, N_CATES = 20, 30, 5
ATTRS = '["item_id", "item_cate", "item_price"]'

FEATURES = """
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" embedding_dim: 8 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "user_cate" expression: "user:user_cate" embedding_dim: 8 num_buckets: 5 embedding_name: "cate" } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 } }
feature_configs { id_feature { feature_name: "item_cate" expression: "item:item_cate" embedding_dim: 8 num_buckets: 5 embedding_name: "cate" } }
feature_configs { raw_feature { feature_name: "item_price" expression: "item:item_price" } }
feature_configs { id_feature { feature_name: "user_aug" expression: "user:user_id" embedding_dim: 8 num_buckets: 20 } }
feature_configs { id_feature { feature_name: "item_aug" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 } }
feature_configs { sequence_feature { sequence_name: "clicks" sequence_length: 8 sequence_delim: ";"
    features { id_feature { feature_name: "item_id" expression: "item:item_id" embedding_dim: 8 num_buckets: 30 } } } }
"""

GROUPS = """
    feature_groups { group_name: "user" feature_names: ["user_id", "user_cate"] group_type: DEEP }
    feature_groups { group_name: "item" feature_names: ["item_id", "item_cate", "item_price"] group_type: DEEP }
"""
DAT_GROUPS = GROUPS + """
    feature_groups { group_name: "user_aug" feature_names: ["user_aug"] group_type: DEEP }
    feature_groups { group_name: "item_aug" feature_names: ["item_aug"] group_type: DEEP }
"""
MIND_GROUPS = GROUPS + """
    feature_groups { group_name: "history" feature_names: ["clicks__item_id"] group_type: SEQUENCE }
"""
TOWERS = 'user_tower { input: "user" mlp { hidden_units: [16] } } item_tower { input: "item" mlp { hidden_units: [16] } }'
HEAD = "losses { softmax_cross_entropy {} } metrics { recall_at_k { top_k: 1 } } metrics { recall_at_k { top_k: 5 } }"

MODELS = {
    "dssm": GROUPS + f"dssm {{ {TOWERS} output_dim: 8 temperature: 0.2 }}",
    "dssm_cosine": GROUPS + f"dssm {{ {TOWERS} output_dim: 8 similarity: COSINE temperature: 0.1 }}",
    "dssm_v2": GROUPS + f"dssm_v2 {{ {TOWERS} output_dim: 8 temperature: 0.2 }}",
    "dat": DAT_GROUPS + """dat {
        user_tower { input: "user" augment_input: "user_aug" mlp { hidden_units: [16] } }
        item_tower { input: "item" augment_input: "item_aug" mlp { hidden_units: [16] } }
        output_dim: 8 temperature: 0.2 amm_u_weight: 0.5 amm_i_weight: 0.5 }""",
    "mind": MIND_GROUPS + """mind {
        user_tower { input: "user" history_input: "history" user_mlp { hidden_units: [8] } hist_seq_mlp { hidden_units: [16] }
            user_seq_combine: CONCAT capsule_config { max_k: 3 max_seq_len: 8 high_dim: 16 num_iters: 3 }
            concat_mlp { hidden_units: [16] } }
        item_tower { input: "item" mlp { hidden_units: [16] } }
        output_dim: 8 simi_pow: 10 similarity: INNER_PRODUCT temperature: 0.2 }""",
}


def write_tables(tmp_path: Path) -> dict[str, str]:
    """Item table (id, weight, attrs), user table, hard-negative edges (user u: u % 4 items) and
    positive edges (user u: every item of its category)."""
    items = ["id:int64\tweight:float\tfeature:string"]
    items += [f"{i}\t1.0\t{i}:{i % N_CATES}:{i / 10:.1f}" for i in range(N_ITEMS)]
    users = ["id:int64\tweight:float"] + [f"{u}\t1.0" for u in range(N_USERS)]
    edges = ["userid:int64\titemid:int64\tweight:float"]
    edges += [f"{u}\t{(u + 1 + k) % N_ITEMS}\t1.0" for u in range(N_USERS) for k in range(u % 4)]
    pos = ["userid:int64\titemid:int64\tweight:float"]
    pos += [f"{u}\t{i}\t1.0" for u in range(N_USERS) for i in range(N_ITEMS) if i % N_CATES == u % N_CATES]
    paths = {}
    for name, lines in (("items", items), ("users", users), ("hard", edges), ("pos", pos)):
        paths[name] = str(tmp_path / f"{name}.txt")
        Path(paths[name]).write_text("\n".join(lines) + "\n")
    return paths


def sampler_text(paths: dict[str, str], hard: bool, masked: bool = False) -> str:
    if masked:
        return f"""negative_sampler_v2 {{ user_input_path: "{paths['users']}" item_input_path: "{paths['items']}"
            pos_edge_input_path: "{paths['pos']}" num_sample: 16 mask_user_positives: true
            attr_fields: {ATTRS} item_id_field: "item_id" user_id_field: "user_id" }}"""
    if hard:
        return f"""hard_negative_sampler {{ user_input_path: "{paths['users']}" item_input_path: "{paths['items']}"
            hard_neg_edge_input_path: "{paths['hard']}" num_sample: 16 num_hard_sample: 3
            attr_fields: {ATTRS} item_id_field: "item_id" user_id_field: "user_id" }}"""
    return f'negative_sampler {{ input_path: "{paths["items"]}" num_sample: 16 attr_fields: {ATTRS} item_id_field: "item_id" }}'


class Setup:
    """A match model, its parser and sampler, built as rec-dist builds them."""

    def __init__(
        self, tmp_path: Path, body: str, *, hard: bool = False, masked: bool = False, sampler: bool = True, head: str = HEAD
    ) -> None:
        paths = write_tables(tmp_path)
        sampling = sampler_text(paths, hard, masked) if sampler else ""
        data = f'data_config {{ batch_size: 32 fg_mode: FG_NORMAL label_fields: "clk" {sampling} }}'
        path = tmp_path / "pipeline.config"
        path.write_text(data + FEATURES + "model_config {\n" + body + head + "}\n")
        config = load_pipeline_config(str(path))
        torch.manual_seed(0)
        self.features = create_features(config.feature_configs, config.data_config.fg_mode)
        assign_data_groups(self.features, sampler_attr_fields(config.data_config))
        self.parser = FeatureParser(self.features, ["clk"])
        self.sampler = create_sampler(config.data_config, "train")
        model = create_model(config.model_config, self.features, ["clk"])
        assert isinstance(model, MatchModel)
        self.model = model

    def batch(self, seed: int, n: int = 32) -> Batch:
        raw = rows(seed, n)
        if self.sampler is None:
            return self.parser(raw)
        return self.parser(self.sampler.apply(raw, np.random.default_rng(seed)))


def rows(seed: int, n: int = 32) -> pa.RecordBatch:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, N_USERS, n)
    cates = users % N_CATES
    items = cates + N_CATES * rng.integers(0, N_ITEMS // N_CATES, n)
    return pa.record_batch(
        {
            "user_id": pa.array(users),
            "user_cate": pa.array(cates),
            "item_id": pa.array(items),
            "item_cate": pa.array(items % N_CATES),
            "item_price": pa.array((items / 10).astype(np.float32)),
            # 1 to 8 earlier clicks, all in the user's category
            "clicks__item_id": pa.array(
                [";".join(str(c + N_CATES * int(k)) for k in rng.integers(0, N_ITEMS // N_CATES, rng.integers(1, 9))) for c in cates]
            ),
            "clk": pa.array(np.ones(n, np.int64)),
        }
    )


class TestSampledParsing:
    """What the parser makes of real samplers' output."""

    def test_negative_sampler_rows_per_group(self, tmp_path: Path) -> None:
        s = Setup(tmp_path, MODELS["dssm"])
        batch = s.batch(0, n=32)
        assert batch.batch_size == 32
        base, neg = batch.sparse_features[BASE_DATA_GROUP], batch.sparse_features[NEG_DATA_GROUP]
        assert set(base.keys()) == {"user_id", "user_cate", "user_aug", "clicks__item_id"} and base.stride() == 32
        assert set(neg.keys()) == {"item_id", "item_cate", "item_aug"} and neg.stride() == 32 + 16
        assert batch.dense_features[NEG_DATA_GROUP].values().shape == (48, 1)
        # the positives come first, then the sampled items with their own attributes
        item_ids = neg["item_id"].values()
        assert item_ids[:32].tolist() == rows(0).column("item_id").to_pylist()
        torch.testing.assert_close(neg["item_cate"].values()[32:], item_ids[32:] % N_CATES)
        assert batch.labels["clk"].shape == (32,)
        assert batch.additional_infos["hard_neg_indices"].shape == (0, 2)

    def test_hard_negative_sampler_indices(self, tmp_path: Path) -> None:
        s = Setup(tmp_path, MODELS["dssm"], hard=True)
        raw = rows(1, n=12)
        batch = s.parser(s.sampler.apply(raw, np.random.default_rng(1)))
        users = raw.column("user_id").to_numpy()
        expected = sum(min(3, u % 4) for u in users)
        hard = batch.additional_infos["hard_neg_indices"]
        assert hard.dtype == torch.int32 and hard.shape == (expected, 2)
        neg_ids = batch.sparse_features[NEG_DATA_GROUP]["item_id"].values()
        assert len(neg_ids) == 12 + 16 + expected
        for i, (row, slot) in enumerate(hard.tolist()):
            u = int(users[row])
            assert slot < u % 4
            assert int(neg_ids[12 + 16 + i]) in {(u + 1 + k) % N_ITEMS for k in range(u % 4)}


@pytest.fixture(params=sorted(MODELS))
def model_name(request: pytest.FixtureRequest) -> str:
    return request.param


def tower_case(tmp_path: Path, model_name: str) -> tuple[Setup, Batch]:
    """The model in eval mode and a predict input: no sampler, item features in __NEG__ with B rows."""
    s = Setup(tmp_path, MODELS[model_name])
    s.model.eval()
    return s, s.parser(rows(5, n=8))


@pytest.fixture(scope="module")
def aot_inductor_towers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Callable]:
    """Both towers of every model, `<model>/<tower>`, compiled by AOTInductor in one build."""
    cases = {}
    for name in MODELS:
        s, plain = tower_case(tmp_path_factory.mktemp(name), name)
        for tower in ("user", "item"):
            cases[f"{name}/{tower}"] = (MatchTowerWrapper(s.model, tower), (plain.to_dict(),))
    return aot_inductor_compile(cases)


class TestEveryModel:
    def test_forward_backward(self, tmp_path: Path, model_name: str) -> None:
        s = Setup(tmp_path, MODELS[model_name], hard=True)
        batch = s.batch(0)
        total, (losses, preds) = TrainWrapper(s.model)(batch)
        hard = batch.additional_infos["hard_neg_indices"]
        width = 1 + 16 + int(hard[:, 1].max()) + 1
        assert preds["similarity"].shape == (32, width)
        expected = {"softmax_cross_entropy"} | ({"amm_loss_u", "amm_loss_i"} if model_name == "dat" else set())
        assert set(losses) == expected
        total.backward()
        missing = [n for n, p in s.model.named_parameters() if p.grad is None]
        assert not missing, f"parameters without gradient: {missing}"

    @pytest.mark.usefixtures("one_thread")
    def test_learns_to_rank_positives_first(self, tmp_path: Path, model_name: str) -> None:
        s = Setup(tmp_path, MODELS[model_name])
        wrapper = TrainWrapper(s.model)
        optimizer = torch.optim.Adam(s.model.parameters(), lr=0.02)

        def evaluate() -> dict[str, float]:
            s.model.eval()
            with torch.no_grad():
                for seed in (100, 101):
                    batch = s.batch(seed)
                    _, (losses, preds) = wrapper(batch)
                    s.model.update_metric(preds, batch, losses)
            s.model.train()
            return s.model.compute_metric()

        before = evaluate()
        for step in range(80):
            optimizer.zero_grad()
            wrapper(s.batch(step))[0].backward()
            optimizer.step()
        after = evaluate()
        assert set(after) >= {"recall@1", "recall@5", "softmax_cross_entropy"}
        assert after["softmax_cross_entropy"] < 0.7 * before["softmax_cross_entropy"], (before, after)
        # 1 positive among 17 candidates, about a fifth of the sampled items share its category
        assert after["recall@5"] > 0.9 and after["recall@5"] > before["recall@5"]

    @pytest.mark.parametrize("hard", [False, True])
    def test_traceable_by_the_train_pipeline(self, tmp_path: Path, model_name: str, hard: bool) -> None:
        s = Setup(tmp_path, MODELS[model_name], hard=hard)
        graph = pipeline_trace(TrainWrapper(s.model))
        assert any(n.op == "call_module" and n.target.endswith("ebc") for n in graph.nodes)

    @pytest.mark.slow
    @pytest.mark.parametrize("tower", ["user", "item"])
    def test_tower_export_forms_agree(
        self, tmp_path: Path, model_name: str, tower: str, aot_inductor_towers: dict[str, Callable]
    ) -> None:
        s, plain = tower_case(tmp_path, model_name)
        data = plain.to_dict()
        wrapper = MatchTowerWrapper(s.model, tower)
        forms = {g: create_test_module(wrapper, g) for g in TRACE_FORMS}
        forms[GraphType.AOT_INDUCTOR] = aot_inductor_towers[f"{model_name}/{tower}"]
        with torch.no_grad():
            expected = s.model.user_tower_emb(plain) if tower == "user" else s.model.item_tower_emb(plain)
            # MIND's user tower gives max_k interests per user
            assert expected.shape == ((8, 3, 8) if model_name == "mind" and tower == "user" else (8, 8))
            for graph_type, form in forms.items():
                out = form(data)
                assert set(out) == {f"{tower}_tower_emb"}
                torch.testing.assert_close(out[f"{tower}_tower_emb"], expected, msg=str(graph_type))


class TestSimilarity:
    def test_logits_are_positive_then_sampled_then_masked_hard(self, tmp_path: Path) -> None:
        s = Setup(tmp_path, MODELS["dssm"], hard=True)
        s.model.eval()
        batch = s.batch(2, n=12)
        with torch.no_grad():
            user, item = s.model.user_tower_emb(batch), s.model.item_tower_emb(batch)
            sim = s.model.predict(batch)["similarity"]
        t = 0.2
        torch.testing.assert_close(sim[:, 0], (user * item[:12]).sum(1) / t)
        torch.testing.assert_close(sim[:, 1:17], user @ item[12:28].T / t)
        hard = batch.additional_infos["hard_neg_indices"].long()
        filled = torch.zeros_like(sim[:, 17:], dtype=torch.bool)
        for i, (row, slot) in enumerate(hard.tolist()):
            torch.testing.assert_close(sim[row, 17 + slot], (user[row] * item[28 + i]).sum() / t)
            filled[row, slot] = True
        assert torch.all(sim[:, 17:][~filled] == torch.finfo(sim.dtype).min)
        # masked slots never win: the loss equals cross-entropy over the real candidates only
        loss = s.model.loss({"similarity": sim}, batch)["softmax_cross_entropy"]
        real = [torch.cat([sim[r, :17], sim[r, 17:][filled[r]]]) for r in range(12)]
        expected = torch.stack([-torch.log_softmax(x, 0)[0] for x in real]).mean()
        torch.testing.assert_close(loss, expected)

    def test_sampled_positives_of_the_rows_user_leave_its_softmax(self, tmp_path: Path) -> None:
        s = Setup(tmp_path, MODELS["dssm"], masked=True)
        s.model.eval()
        raw = rows(6, n=12)
        batch = s.parser(s.sampler.apply(raw, np.random.default_rng(6)))
        with torch.no_grad():
            user, item = s.model.user_tower_emb(batch), s.model.item_tower_emb(batch)
            sim = s.model.predict(batch)["similarity"]
        # a user's positives are the items of its category; every row masks those it shares
        cates = raw.column("user_cate").to_numpy()
        drawn = batch.sparse_features[NEG_DATA_GROUP]["item_id"].values()[12:]
        masked = (drawn[None, :] % N_CATES).numpy() == cates[:, None]
        assert masked.any() and not masked.all()
        pairs = batch.additional_infos["masked_neg_indices"].long()
        assert sorted(map(tuple, pairs.tolist())) == [tuple(x) for x in np.argwhere(masked).tolist()]
        assert sim.shape == (12, 17)
        assert torch.all(sim[:, 1:][torch.from_numpy(masked)] == torch.finfo(sim.dtype).min)
        torch.testing.assert_close(sim[:, 1:][torch.from_numpy(~masked)], (user @ item[12:].T / 0.2)[torch.from_numpy(~masked)])
        loss = s.model.loss({"similarity": sim}, batch)["softmax_cross_entropy"]
        kept = [torch.cat([sim[r, :1], sim[r, 1:][torch.from_numpy(~masked[r])]]) for r in range(12)]
        torch.testing.assert_close(loss, torch.stack([-torch.log_softmax(x, 0)[0] for x in kept]).mean())

    def test_recall_counts_the_positive_in_the_top_k(self, tmp_path: Path) -> None:
        head = HEAD + " train_metrics { recall_at_k { top_k: 2 } decay_rate: 0.5 decay_step: 1 }"
        s = Setup(tmp_path, MODELS["dssm"], head=head)
        batch = s.batch(0, n=3)
        # row 0: positive first; row 1: positive second; row 2: positive third
        sim = torch.tensor([[5.0, 1.0, 0.0], [2.0, 3.0, 1.0], [1.0, 3.0, 2.0]])
        s.model.update_metric({"similarity": sim}, batch)
        s.model.update_train_metric({"similarity": sim}, batch)
        got = s.model.compute_metric()
        assert got["recall@1"] == pytest.approx(1 / 3) and got["recall@5"] == pytest.approx(1.0)
        assert s.model.compute_train_metric() == {"recall@2": pytest.approx(2 / 3)}

    def test_in_batch_negatives(self, tmp_path: Path) -> None:
        body = MODELS["dssm"].replace("output_dim: 8", "output_dim: 8 in_batch_negative: true")
        s = Setup(tmp_path, body, sampler=False)
        batch = s.batch(3, n=10)
        with torch.no_grad():
            user, item = s.model.user_tower_emb(batch), s.model.item_tower_emb(batch)
            sim = s.model.predict(batch)["similarity"]
        torch.testing.assert_close(sim, user @ item.T / 0.2)
        loss = s.model.loss({"similarity": sim}, batch)["softmax_cross_entropy"]
        torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(sim, torch.arange(10)))

    def test_cosine_towers_have_unit_length(self, tmp_path: Path) -> None:
        s = Setup(tmp_path, MODELS["dssm_cosine"])
        batch = s.batch(4)
        with torch.no_grad():
            for emb in (s.model.user_tower_emb(batch), s.model.item_tower_emb(batch)):
                torch.testing.assert_close(emb.norm(dim=1), torch.ones(len(emb)))

    def test_dssm_v2_shares_tables_across_towers(self, tmp_path: Path) -> None:
        v1 = Setup(tmp_path, MODELS["dssm"]).model
        v2 = Setup(tmp_path, MODELS["dssm_v2"]).model
        def cate_tables(m: torch.nn.Module) -> list[str]:
            return [n for n, _ in m.named_parameters() if "embedding_bags.cate." in n]
        assert len(cate_tables(v1)) == 2  # user_cate and item_cate: one table per tower
        assert len(cate_tables(v2)) == 1  # one table named `cate`

    def test_dat_augmented_vectors_mimic_the_other_tower(self, tmp_path: Path) -> None:
        s = Setup(tmp_path, MODELS["dat"])
        batch = s.batch(5)
        preds = s.model.predict(batch)
        losses = s.model.loss(preds, batch)
        b = 32
        expected_u = 0.5 * (preds["user_augment"] - preds["item_tower_emb"][:b]).pow(2).sum(1).mean()
        torch.testing.assert_close(losses["amm_loss_u"], expected_u)
        # the mimic losses move the augmented vectors only, never the tower outputs they copy
        s.model.zero_grad()
        losses["amm_loss_u"].backward()
        item_tower = [p.grad for p in s.model.item_tower.parameters()]
        assert all(g is None or torch.all(g == 0) for g in item_tower)
        aug_table = [p for n, p in s.model.named_parameters() if "user_aug" in n]
        assert aug_table and aug_table[0].grad is not None and aug_table[0].grad.abs().sum() > 0


class TestCapsule:
    def capsule(self, **fields: object) -> B2ICapsule:
        torch.manual_seed(0)
        return B2ICapsule(4, module_pb2.B2ICapsule(max_seq_len=8, high_dim=3, **fields))

    def test_interests_per_user_follow_log2_of_the_history(self) -> None:
        caps, mask = self.capsule(max_k=3)(torch.randn(5, 8, 4), torch.tensor([0, 1, 3, 4, 8]))
        assert mask.sum(1).tolist() == [1, 1, 1, 2, 3]
        assert torch.all(caps[~mask] == 0) and torch.isfinite(caps).all()
        assert torch.all(caps[0] == 0)  # no history: nothing to route
        _, fixed = self.capsule(max_k=3, const_caps_num=True)(torch.randn(2, 8, 4), torch.tensor([1, 8]))
        assert fixed.all()

    def test_one_round_from_zero_logits_averages_the_history(self) -> None:
        # equal logits: every valid capsule takes each real behaviour with weight 1/K
        layer = self.capsule(max_k=2, num_iters=1, routing_init_method="zeros")
        seq, lengths = torch.randn(1, 8, 4), torch.tensor([5])
        caps, mask = layer(seq, lengths)
        assert mask.tolist() == [[True, True]]
        z = layer.bilinear(seq[0, :5]).sum(0) / 2
        n2 = (z * z).sum()
        expected = z * n2 / (1 + n2) / n2.sqrt()
        torch.testing.assert_close(caps[0, 0], expected)
        torch.testing.assert_close(caps[0, 1], expected)

    def test_squash_keeps_direction_and_bounds_length(self) -> None:
        z = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
        out = squash(z)
        torch.testing.assert_close(out[0], z[0] / 5 * (25 / 26))
        assert torch.all(out[1] == 0)

    def test_label_aware_attention(self, tmp_path: Path) -> None:
        model = Setup(tmp_path, MODELS["mind"]).model
        interests = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]]])
        mask = torch.tensor([[True, True, False]])
        target = torch.tensor([[1.0, 1.0]])
        got = model.label_aware(interests, mask, target)
        w = torch.softmax(torch.tensor([1.0, 2.0**10]), 0)  # (u . t)^simi_pow, the masked interest left out
        torch.testing.assert_close(got[0], w[0] * interests[0, 0] + w[1] * interests[0, 1])


class TestConfigErrors:
    def expect(self, tmp_path: Path, body: str, match: str, head: str = HEAD, sampler: bool = True) -> None:
        with pytest.raises(ConfigError, match=match):
            Setup(tmp_path, body, head=head, sampler=sampler)

    def test_needs_negatives(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["dssm"], "model_config.dssm.in_batch_negative", sampler=False)

    def test_only_softmax_cross_entropy(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["dssm"], "softmax_cross_entropy", head="losses { binary_cross_entropy {} }")

    def test_only_recall_at_k(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["dssm"], r"metrics\[0\].*recall_at_k", head="losses { softmax_cross_entropy {} } metrics { auc {} }")

    def test_item_group_must_be_all_sampled(self, tmp_path: Path) -> None:
        body = MODELS["dssm"].replace('"item_id", "item_cate", "item_price"]', '"item_id", "item_cate", "user_aug"]')
        self.expect(tmp_path, body, r"\['user_aug'\].*attr_fields")

    def test_user_tower_must_not_read_sampled_columns(self, tmp_path: Path) -> None:
        body = MODELS["dssm"].replace('["user_id", "user_cate"]', '["user_id", "item_aug"]')
        self.expect(tmp_path, body, r"user_tower.input.*\['item_aug'\]")

    def test_unknown_tower_group(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["dssm"].replace('input: "item"', 'input: "items"'), "item_tower.input.*'items'")

    def test_mind_history_must_be_a_sequence_group(self, tmp_path: Path) -> None:
        body = MODELS["mind"].replace("group_type: SEQUENCE", "group_type: DEEP")
        self.expect(tmp_path, body, "history_input.*SEQUENCE")

    def test_mind_sum_needs_matching_widths(self, tmp_path: Path) -> None:
        body = MODELS["mind"].replace("user_seq_combine: CONCAT", "user_seq_combine: SUM")
        self.expect(tmp_path, body, "user_mlp.hidden_units.*high_dim 16")

    def test_dat_augment_width(self, tmp_path: Path) -> None:
        self.expect(tmp_path, MODELS["dat"].replace("output_dim: 8", "output_dim: 4"), "user_tower.augment_input.*output_dim")

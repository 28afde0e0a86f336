from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rec_core.errors import ConfigError, DataError, PluginError
from rec_core.protos import data_pb2, sampler_pb2
from rec_data.samplers import SampledBatch, create_sampler
from rec_data.samplers.hard_negative import HardNegativeSampler, HardNegativeSamplerV2
from rec_data.samplers.negative import NegativeSampler, NegativeSamplerV2, owners_for, user_positive_pairs
from rec_data.loader import create_dataloader
from rec_data.samplers.tables import ItemTable, UserItemEdges, concat_ranges
from rec_data.samplers.tdm import TDMSampler

N_ITEMS = 20


def write_items(path: Path, weights: list[float], delimiter: str = ":") -> str:
    lines = ["id:int64\tweight:float\tfeature:string"]
    for i, w in enumerate(weights):
        lines.append(f"{100 + i}\t{w}\t{100 + i}{delimiter}c{i % 3}{delimiter}{i * 0.5}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def write_edges(path: Path, edges: list[tuple[int, int, float]]) -> str:
    path.write_text("userid:int64\titemid:int64\tweight:float\n" + "".join(f"{u}\t{i}\t{w}\n" for u, i, w in edges))
    return str(path)


def user_batch(users: list[int]) -> pa.RecordBatch:
    return pa.record_batch(
        {
            "user_id": pa.array(users, pa.int64()),
            "item_id": pa.array([100] * len(users), pa.int64()),
            "cate": pa.array(["c0"] * len(users)),
            "price": pa.array([1.0] * len(users), pa.float32()),
        }
    )


@pytest.fixture
def items(tmp_path: Path) -> str:
    # Item 100+i has weight i (item 100 can never be drawn).
    return write_items(tmp_path / "items.txt", [float(i) for i in range(N_ITEMS)])


def negative_config(items: str, num_sample: int = 1000, **kw) -> sampler_pb2.NegativeSampler:  # type: ignore[no-untyped-def]
    return sampler_pb2.NegativeSampler(
        input_path=items, num_sample=num_sample, attr_fields=["item_id", "cate", "price"], item_id_field="item_id", **kw
    )


def test_weighted_frequencies_match_weights(items: str) -> None:
    sampler = NegativeSampler(negative_config(items))
    rng = np.random.default_rng(0)
    batch = user_batch([1, 2, 3])
    ids = np.concatenate([sampler.sample(batch, rng).negatives.column("item_id").to_numpy() for _ in range(100)])
    assert len(ids) == 100_000
    counts = np.bincount(ids - 100, minlength=N_ITEMS)
    weights = np.arange(N_ITEMS, dtype=np.float64)
    expected = len(ids) * weights / weights.sum()
    assert counts[0] == 0  # weight 0: never drawn
    chi2 = float(((counts[1:] - expected[1:]) ** 2 / expected[1:]).sum())
    assert chi2 < 43.8  # chi-square, 18 degrees of freedom, p = 0.001
    assert np.max(np.abs(counts[1:] - expected[1:]) / expected[1:]) < 0.1


def test_negatives_have_attr_columns_typed_like_the_batch(items: str) -> None:
    sampler = NegativeSampler(negative_config(items, num_sample=7))
    out = sampler.sample(user_batch([1]), np.random.default_rng(1)).negatives
    assert out.num_rows == 7
    assert out.schema.names == ["item_id", "cate", "price"]
    assert [f.type for f in out.schema] == [pa.int64(), pa.string(), pa.float32()]
    for item, cate, price in zip(*(out.column(n).to_pylist() for n in out.schema.names), strict=True):
        assert cate == f"c{(item - 100) % 3}" and price == pytest.approx((item - 100) * 0.5)
    # Without the batch telling the types, attrs stay strings.
    plain = sampler.sample(pa.record_batch({"x": [1]}), np.random.default_rng(1)).negatives
    assert plain.schema.field("item_id").type == pa.string()


def test_eval_uses_num_eval_sample(items: str) -> None:
    assert NegativeSampler(negative_config(items, num_sample=5, num_eval_sample=9), mode="eval").num_sample == 9
    assert NegativeSampler(negative_config(items, num_sample=5), mode="eval").num_sample == 5


def test_sampler_is_seeded_and_loads_lazily_per_process(items: str) -> None:
    sampler = NegativeSampler(negative_config(items, num_sample=50))
    clone = pickle.loads(pickle.dumps(sampler))
    assert not hasattr(clone, "_t_items")  # nothing loaded before first use
    a = sampler.sample(user_batch([1]), np.random.default_rng(5)).negatives
    again = pickle.loads(pickle.dumps(sampler))  # tables are not shipped to workers
    assert not hasattr(again, "_t_items") and not again._loaded
    b = again.sample(user_batch([1]), np.random.default_rng(5)).negatives
    assert a.equals(b)


def _v2_config(tmp_path: Path, items: str, num_sample: int, **kw) -> sampler_pb2.NegativeSamplerV2:  # type: ignore[no-untyped-def]
    users = tmp_path / "users.txt"
    users.write_text("id:int64\tweight:float\n1\t1\n2\t1\n3\t1\n")
    return sampler_pb2.NegativeSamplerV2(
        user_input_path=str(users), item_input_path=items, num_sample=num_sample,
        attr_fields=["item_id", "cate", "price"], item_id_field="item_id", user_id_field="user_id", **kw,
    )


def test_v2_never_returns_a_users_positive(tmp_path: Path, items: str) -> None:
    # User 1 likes the heaviest half of the items, user 2 all but item 101 (so rejection
    # sampling alone would nearly never finish), user 3 nothing.
    heavy = [(1, 100 + i, 1.0) for i in range(10, N_ITEMS)]
    all_but_one = [(2, 100 + i, 1.0) for i in range(N_ITEMS) if i != 1]
    edges = write_edges(tmp_path / "pos.txt", heavy + all_but_one + [(9, 105, 1.0), (1, 999, 1.0)])
    sampler = NegativeSamplerV2(_v2_config(tmp_path, items, 600, pos_edge_input_path=edges))
    positives = {1: {i for _, i, _ in heavy}, 2: {i for _, i, _ in all_but_one}, 3: set()}
    rng = np.random.default_rng(3)
    users = [1, 2, 3, 1, 2, 3]
    seen_for_3 = set()
    for _ in range(30):
        out = sampler.sample(user_batch(users), rng).negatives.column("item_id").to_pylist()
        owners = owners_for(len(users), 600)
        for item, row in zip(out, owners, strict=True):
            assert item not in positives[users[row]]
            if users[row] == 3:
                seen_for_3.add(item)
    assert len(out) == 600
    assert seen_for_3 & positives[1]  # users without positives draw from everything


def test_v2_masks_every_rows_user_positives_among_the_shared_negatives(tmp_path: Path, items: str) -> None:
    # user 1 likes the even items, user 2 items 101 to 104; user 3 and user 7 (not in the edge table) nothing
    pos = {1: {100 + i for i in range(0, N_ITEMS, 2)}, 2: {101, 102, 103, 104}, 3: set(), 7: set()}
    edges = write_edges(tmp_path / "pos.txt", [(u, i, 1.0) for u, its in pos.items() for i in sorted(its)])
    config = _v2_config(tmp_path, items, 40, pos_edge_input_path=edges, mask_user_positives=True)
    users = [1, 2, 3, 2, 7, 1]
    out = NegativeSamplerV2(config).apply(user_batch(users), np.random.default_rng(4))
    assert isinstance(out, SampledBatch)
    drawn = out.negatives.column("item_id").to_pylist()
    expected = [[r, k] for r, u in enumerate(users) for k, item in enumerate(drawn) if item in pos[u]]
    assert out.masked_neg_indices.dtype == np.int32 and sorted(out.masked_neg_indices.tolist()) == expected
    # with 40 draws over 19 items, rows share negatives their own draw did not exclude
    assert len(expected) > 0
    config.mask_user_positives = False
    assert NegativeSamplerV2(config).apply(user_batch(users), np.random.default_rng(4)).masked_neg_indices is None


@pytest.fixture(scope="module")
def ten_items(tmp_path_factory: pytest.TempPathFactory) -> ItemTable:
    """Items 0..9 in reverse order, so an item's row is not its id."""
    path = tmp_path_factory.mktemp("ten") / "items.txt"
    path.write_text("".join(f"{i}\t1\t{i}\n" for i in reversed(range(10))))
    return ItemTable(str(path), ["item_id"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edges=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9)), max_size=40),
    users=st.lists(st.integers(-1, 6), max_size=12),
    drawn=st.lists(st.integers(0, 9), max_size=25),
)
def test_user_positive_pairs_match_a_brute_force_scan(ten_items: ItemTable, edges, users, drawn) -> None:  # type: ignore[no-untyped-def]
    # every edge twice: edge tables may repeat an edge, and the pairs must still be distinct
    src = np.array([u for u, _ in edges * 2], np.int64)
    dst = np.array([i for _, i in edges * 2], np.int64)
    index = UserItemEdges.build(src, dst, np.ones(len(src)), ten_items)
    user_ids = np.array(users, np.int64)
    user_index = index.user_index(user_ids, user_ids >= 0)
    # drawn item ids -> their rows in the table, as the sampler hands them over
    got = user_positive_pairs(index, user_index, ten_items.rows(np.array(drawn, np.int64)))
    distinct = set(edges)
    expected = [[r, k] for r, u in enumerate(users) for k, item in enumerate(drawn) if (u, item) in distinct]
    assert got.shape == (len(expected), 2) and sorted(got.tolist()) == expected


@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(0, 6)), max_size=12))
def test_concat_ranges_is_the_concatenated_aranges(spans) -> None:  # type: ignore[no-untyped-def]
    starts = np.array([s for s, _ in spans], np.int64)
    lengths = np.array([n for _, n in spans], np.int64)
    expected = [i for s, n in spans for i in range(s, s + n)]
    assert concat_ranges(starts, lengths).tolist() == expected


def test_v2_user_with_only_positives_is_an_error(tmp_path: Path, items: str) -> None:
    edges = write_edges(tmp_path / "pos.txt", [(1, 100 + i, 1.0) for i in range(1, N_ITEMS)])
    sampler = NegativeSamplerV2(_v2_config(tmp_path, items, 4, pos_edge_input_path=edges))
    with pytest.raises(DataError, match="user 1 has every item"):
        sampler.sample(user_batch([1]), np.random.default_rng(0))


def _hard_config(cls, tmp_path: Path, items: str, edges: str, **kw):  # type: ignore[no-untyped-def]
    users = tmp_path / "users.txt"
    users.write_text("id:int64\tweight:float\n1\t1\n")
    return cls(
        user_input_path=str(users), item_input_path=items, hard_neg_edge_input_path=edges,
        attr_fields=["item_id", "cate", "price"], item_id_field="item_id", user_id_field="user_id", **kw,
    )


def test_hard_negatives_come_only_from_the_users_hard_edges(tmp_path: Path, items: str) -> None:
    hard = {1: [101, 102, 103, 104, 105, 106], 2: [110, 111], 4: [119, 118, 117]}
    edges = write_edges(tmp_path / "hard.txt", [(u, i, float(j + 1)) for u, its in hard.items() for j, i in enumerate(its)])
    config = _hard_config(sampler_pb2.HardNegativeSampler, tmp_path, items, edges, num_sample=5, num_hard_sample=4)
    sampler = HardNegativeSampler(config)
    users = [1, 2, 3, 4, 1]
    rng = np.random.default_rng(7)
    for _ in range(20):
        out = sampler.sample(user_batch(users), rng)
        ids = out.negatives.column("item_id").to_pylist()
        idx = out.hard_neg_indices
        assert idx is not None and idx.dtype == np.int32 and idx.shape[1] == 2
        hard_ids = ids[5:]
        assert len(hard_ids) == len(idx) == 4 + 2 + 0 + 3 + 4
        for (row, slot), item in zip(idx.tolist(), hard_ids, strict=True):
            assert item in hard[users[row]] if users[row] in hard else False
        # Per row: distinct items, slots 0..n-1, rows in order.
        assert idx[:, 0].tolist() == sorted(idx[:, 0].tolist())
        for row in set(idx[:, 0].tolist()):
            mine = [i for (r, _), i in zip(idx.tolist(), hard_ids, strict=True) if r == row]
            assert sorted(s for r, s in idx.tolist() if r == row) == list(range(len(mine)))
            assert len(set(mine)) == len(mine)
    # A user with at most num_hard_sample hard negatives gets all of them.
    out = sampler.sample(user_batch([2]), rng)
    assert sorted(out.negatives.column("item_id").to_pylist()[5:]) == [110, 111]


def test_hard_negative_v2_random_part_avoids_positives(tmp_path: Path, items: str) -> None:
    hard = write_edges(tmp_path / "hard.txt", [(1, 101, 1.0)])
    pos = write_edges(tmp_path / "pos.txt", [(1, 100 + i, 1.0) for i in range(2, N_ITEMS)])
    config = _hard_config(
        sampler_pb2.HardNegativeSamplerV2, tmp_path, items, hard, pos_edge_input_path=pos, num_sample=50, num_hard_sample=2
    )
    out = HardNegativeSamplerV2(config).sample(user_batch([1]), np.random.default_rng(0))
    assert set(out.negatives.column("item_id").to_pylist()) == {101}  # the only non-positive (weight > 0)
    assert out.hard_neg_indices.tolist() == [[0, 0]]


# -- TDM ----------------------------------------------------------------------------------
# A binary tree: root 1 (level 0); level 1: 2, 3; level 2: 4..7; leaves (level 3): 100..107.
PARENT = {2: 1, 3: 1, 4: 2, 5: 2, 6: 3, 7: 3, **{100 + i: 4 + i // 2 for i in range(8)}}
LEVEL = {1: 0, 2: 1, 3: 1, **{n: 2 for n in range(4, 8)}, **{100 + i: 3 for i in range(8)}}


def ancestors(leaf: int) -> dict[int, int]:
    out, node = {}, leaf
    while node in PARENT:
        node = PARENT[node]
        out[LEVEL[node]] = node
    return out


def write_tree(tmp_path: Path, parent_edges: bool = False) -> tuple[str, str]:
    nodes = ["id:int64\tweight:float\tfeature:string", "-1\t1.0\t-1,-1,x"]
    for n, lv in LEVEL.items():
        nodes.append(f"{n}\t1.0\t{lv},{n},cat{n % 3}")
    (tmp_path / "nodes.txt").write_text("\n".join(nodes) + "\n")
    edges = ["src_id:int64\tdst_id:int64\tweight:float"]
    if parent_edges:
        edges += [f"{c}\t{p}\t1.0" for c, p in PARENT.items() if p != 1]
    else:
        edges += [f"{leaf}\t{a}\t1.0" for leaf in range(100, 108) for lv, a in ancestors(leaf).items() if lv > 0]
    (tmp_path / "edges.txt").write_text("\n".join(edges) + "\n")
    return str(tmp_path / "nodes.txt"), str(tmp_path / "edges.txt")


def tdm_config(tmp_path: Path, layers=(0, 1, 2, 3), parent_edges: bool = False, **kw) -> sampler_pb2.TDMSampler:  # type: ignore[no-untyped-def]
    nodes, edges = write_tree(tmp_path, parent_edges)
    return sampler_pb2.TDMSampler(
        item_input_path=nodes, edge_input_path=edges, predict_edge_input_path=edges,
        attr_fields=["tree_level", "item_id", "cate"], item_id_field="item_id",
        layer_num_sample=list(layers), attr_delimiter=",", **kw,
    )


def tdm_batch(items: list[int]) -> pa.RecordBatch:
    return pa.record_batch({
        "user_id": pa.array(range(len(items)), pa.int64()),
        "item_id": pa.array(items, pa.int64()),
        "cate": pa.array([f"cat{i % 3}" for i in items]),
        "clk": pa.array([1] * len(items), pa.int64()),
    })


@pytest.mark.parametrize("parent_edges", [False, True])
def test_tdm_positives_are_the_ancestors_and_negatives_their_level(tmp_path: Path, parent_edges: bool) -> None:
    data = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, label_fields=["clk"])
    sampler = TDMSampler(tdm_config(tmp_path, parent_edges=parent_edges), data_config=data)
    items = [100, 103, 107, 103]
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = sampler.sample(tdm_batch(items), rng)
        pos = out.positives.column("item_id").to_pylist()
        assert out.pos_rows.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
        assert out.pos_levels.tolist() == [1, 2] * 4
        for item, row, level in zip(pos, out.pos_rows, out.pos_levels, strict=True):
            assert ancestors(items[row])[level] == item
        negs = out.negatives.column("item_id").to_pylist()
        levels = [int(x) for x in out.negatives.column("tree_level").to_pylist()]
        assert len(negs) == len(items) * (1 + 2 + 3)
        assert levels == out.neg_levels.tolist() and levels[:6] == [1, 2, 2, 3, 3, 3]
        for item, row, level in zip(negs, out.neg_rows, levels, strict=True):
            assert LEVEL[item] == level
            assert item != (ancestors(items[row]).get(level) if level < 3 else items[row])
        for row in range(len(items)):
            mine = [(n, lv) for n, r, lv in zip(negs, out.neg_rows, levels, strict=True) if r == row]
            assert len(set(mine)) == len(mine)  # distinct within a row
            # level 1 has two nodes: the only negative is the other one
            assert [n for n, lv in mine if lv == 1] == [3 if ancestors(items[row])[1] == 2 else 2]


def test_tdm_apply_expands_the_batch_with_labels(tmp_path: Path) -> None:
    data = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, label_fields=["clk"])
    sampler = TDMSampler(tdm_config(tmp_path), data_config=data)
    out = sampler.apply(tdm_batch([101, 106]), np.random.default_rng(1))
    assert isinstance(out, pa.RecordBatch)
    assert out.num_rows == 2 + 2 * 2 + 2 * 6
    assert out.schema.names == ["user_id", "item_id", "cate", "clk", "tree_level"]
    assert out.column("clk").to_pylist() == [1] * 6 + [0] * 12
    assert out.column("user_id").to_pylist() == [0, 1, 0, 0, 1, 1] + [0] * 6 + [1] * 6
    assert out.column("item_id").to_pylist()[:6] == [101, 106, 2, 4, 3, 7]
    assert out.column("tree_level").to_pylist()[:2] == ["3", "3"]


def test_tdm_remain_ratio_keeps_a_share_of_the_middle_levels(tmp_path: Path) -> None:
    sampler = TDMSampler(tdm_config(tmp_path, remain_ratio=0.5, probability_type="RECIPROCAL"))
    rng = np.random.default_rng(0)
    kept = [tuple(sampler.sample(tdm_batch([100]), rng).pos_levels.tolist()) for _ in range(400)]
    assert set(kept) == {(1,), (2,)}
    # RECIPROCAL: p ∝ 1 / (3 - level): level 2 twice as likely as level 1.
    share = kept.count((2,)) / len(kept)
    assert 0.58 < share < 0.75
    assert TDMSampler(tdm_config(tmp_path, remain_ratio=0.5), mode="eval").sample(tdm_batch([100]), rng).pos_levels.tolist() == [1, 2]


def test_tdm_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"layer_num_sample\[0\]: must be 0"):
        TDMSampler(tdm_config(tmp_path, layers=(1, 1, 1, 1)))
    with pytest.raises(ConfigError, match="attr_fields: must include 'tree_level'"):
        TDMSampler(sampler_pb2.TDMSampler(item_input_path="x", edge_input_path="y", predict_edge_input_path="z", item_id_field="i", attr_fields=["i"], layer_num_sample=[0]))
    with pytest.raises(ConfigError, match="has 3 entries, but the tree .* has 4 levels"):
        TDMSampler(tdm_config(tmp_path, layers=(0, 1, 2))).sample(tdm_batch([100]), np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"layer_num_sample\[1\]: asks for 2 negatives, but level 1 has 2"):
        TDMSampler(tdm_config(tmp_path, layers=(0, 2, 1, 1))).sample(tdm_batch([100]), np.random.default_rng(0))
    with pytest.raises(DataError, match="id 5 .* not a leaf"):
        TDMSampler(tdm_config(tmp_path)).sample(tdm_batch([5]), np.random.default_rng(0))


# -- tables, registry, dataset ------------------------------------------------------------
def test_bad_attr_count_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "items.txt"
    path.write_text("id:int64\tweight:float\tfeature:string\n1\t1.0\t1:a:0.5\n2\t1.0\t2:b\n")
    sampler = NegativeSampler(negative_config(str(path), num_sample=3))
    with pytest.raises(DataError, match=r"items\.txt: line 3: .*'2:b' has 2 value\(s\) split by attr_delimiter ':', but attr_fields names 3"):
        sampler.sample(user_batch([1]), np.random.default_rng(0))


def test_attr_that_does_not_fit_the_batch_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "items.txt"
    path.write_text("1\t1.0\tabc:a:0.5\n")  # no header: columns by position
    sampler = NegativeSampler(negative_config(str(path), num_sample=3))
    with pytest.raises(DataError, match=r"attr 'item_id' cannot be read as int64"):
        sampler.sample(user_batch([1]), np.random.default_rng(0))


def test_create_sampler_by_oneof_name(items: str) -> None:
    data = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset)
    assert create_sampler(data) is None
    data.negative_sampler.CopyFrom(negative_config(items, num_sample=3))
    sampler = create_sampler(data, "eval")
    assert isinstance(sampler, NegativeSampler) and sampler.mode == "eval"
    out = sampler.apply(user_batch([1, 2]), np.random.default_rng(0))
    assert isinstance(out, SampledBatch) and out.num_rows == 2 and out.num_negatives == 3
    padded = out.padded()
    assert padded.num_rows == 5 and padded.column("user_id").null_count == 3
    with pytest.raises(PluginError, match="unknown rec.samplers plugin 'nope'; installed: .*negative_sampler"):
        create_sampler(data, name="nope")
    with pytest.raises(ConfigError, match="data_config.negative_sampler.input_path: is required"):
        NegativeSampler(sampler_pb2.NegativeSampler(num_sample=1, item_id_field="x", attr_fields=["x"]))


_attr_text = st.text(
    alphabet=st.characters(blacklist_characters="\t\n\r:", blacklist_categories=("Cs", "Cc")), max_size=6
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.integers(-(2**62), 2**62),
            st.floats(0, 1e6, allow_nan=False),
            st.lists(_attr_text, min_size=3, max_size=3),
        ),
        min_size=1, max_size=25, unique_by=lambda r: r[0],
    ),
    header=st.booleans(),
)
def test_item_table_parses_what_was_written(tmp_path: Path, rows, header: bool) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "items.txt"
    lines = ["id:int64\tweight:float\tfeature:string"] if header else []
    lines += [f"{i}\t{w!r}\t{':'.join(a)}" for i, w, a in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = ItemTable(str(path), ["a", "b", "c"])
    assert table.ids.tolist() == [r[0] for r in rows]
    assert table.weights.tolist() == [r[1] for r in rows]
    for j, name in enumerate("abc"):
        assert table.attrs[name].to_pylist() == [r[2][j] or None for r in rows]
    looked_up = table.rows(np.array([r[0] for r in reversed(rows)] + [2**63 - 1]))
    assert looked_up.tolist() == list(range(len(rows)))[::-1] + [-1]


def parse_sampled(sampled: SampledBatch) -> tuple[list[int], list[int]]:
    """Module-level so DataLoader workers can pickle it."""
    assert isinstance(sampled, SampledBatch)
    return sampled.batch.column("user_id").to_pylist(), sampled.negatives.column("item_id").to_pylist()


def test_dataloader_workers_sample_per_batch(tmp_path: Path, items: str) -> None:
    pq.write_table(
        pa.table({"user_id": np.arange(300), "item_id": np.full(300, 101), "x": np.zeros(300)}),
        tmp_path / "d.parquet", row_group_size=50,
    )
    data = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, batch_size=40, num_workers=2)
    data.negative_sampler.CopyFrom(negative_config(items, num_sample=6))

    def run(seed: int) -> list[tuple[list[int], list[int]]]:
        loader = create_dataloader(data, str(tmp_path / "d.parquet"), parse_sampled, columns=["user_id", "item_id"], seed=seed)
        return list(loader)

    got = run(1)
    users = sorted(u for b, _ in got for u in b)
    assert users == list(range(300))
    assert all(len(n) == 6 and all(101 <= i < 120 for i in n) for _, n in got)
    assert got == run(1) and got != run(2)
    # predict never samples; use_sampler=False turns the sampler off.
    data.num_workers = 0
    plain = create_dataloader(data, str(tmp_path / "d.parquet"), lambda b: b, mode="predict")
    assert isinstance(next(iter(plain)), pa.RecordBatch)
    off = create_dataloader(data, str(tmp_path / "d.parquet"), lambda b: b, use_sampler=False)
    assert isinstance(next(iter(off)), pa.RecordBatch)


def test_sampler_id_columns_are_added_to_the_columns_read(tmp_path: Path, items: str) -> None:
    pq.write_table(pa.table({"user_id": [1, 2], "x": [0.0, 1.0]}), tmp_path / "d.parquet")
    edges = write_edges(tmp_path / "pos.txt", [(1, 101, 1.0)])
    data = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, batch_size=8, num_workers=0)
    data.negative_sampler_v2.CopyFrom(_v2_config(tmp_path, items, 3, pos_edge_input_path=edges))
    (got,) = list(create_dataloader(data, str(tmp_path / "d.parquet"), lambda s: s, columns=["x"]))
    assert got.batch.schema.names == ["x", "user_id"] and got.num_negatives == 3


def test_negative_mask_applies_to_the_sampled_rows_only(tmp_path: Path, items: str) -> None:
    pq.write_table(pa.table({"user_id": np.arange(50), "item_id": np.full(50, 101), "cate": ["c1"] * 50}), tmp_path / "d.parquet")
    data = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, batch_size=25, num_workers=0)
    data.negative_sampler.CopyFrom(negative_config(items, num_sample=40))
    loader = create_dataloader(
        data, str(tmp_path / "d.parquet"), lambda s: s, mask_columns={"user_id": 1.0}, negative_mask_columns={"cate": 1.0}
    )
    for sampled in loader:
        assert sampled.batch.column("user_id").null_count == 25 and sampled.batch.column("cate").null_count == 0
        assert sampled.negatives.column("cate").null_count == 40 and sampled.negatives.column("item_id").null_count == 0
    # Outside training nothing is masked.
    for sampled in create_dataloader(data, str(tmp_path / "d.parquet"), lambda s: s, mode="eval", negative_mask_columns={"cate": 1.0}):
        assert sampled.negatives.column("cate").null_count == 0

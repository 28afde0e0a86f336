"""TDM tree tools: the initial tree, the clustered tree, and beam search against brute force."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rec_core.errors import DataError
from rec_data.samplers.tdm import TDMSampler
from rec_tools.tdm.beam import TreeIndex, beam_search
from rec_tools.tdm.cluster import capacity_assign, cluster_order
from rec_tools.tdm.retrieval import load_tree
from rec_tools.tdm.tree import complete_tree

ITEMS = {  # item id -> (category, price)
    100: ("b", 0.0), 101: ("a", 1.0), 102: ("c", 2.0), 103: ("a", 3.0), 104: ("b", 4.0),
    105: ("c", 5.0), 106: ("a", 6.0), 107: ("b", 7.0), 108: ("c", 8.0), 109: ("a", 9.0),
}


def rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()[1:]]


def read_tree(out: Path) -> dict[str, dict]:
    """node id -> feature values; child -> parent; leaf -> ancestors (edge table order)."""
    nodes = {int(r[0]): r[2].split(":") for r in rows(out / "node_table.txt")}
    parent = {int(r[1]): int(r[0]) for r in rows(out / "predict_edge_table.txt")}
    ancestors: dict[int, list[int]] = {}
    for r in rows(out / "edge_table.txt"):
        ancestors.setdefault(int(r[0]), []).append(int(r[1]))
    return {"nodes": nodes, "parent": parent, "ancestors": ancestors}


@pytest.fixture()
def item_table(tmp_path: Path) -> Path:
    # rows out of order, one item twice (its first row counts)
    ids = [107, 101, 105, 100, 109, 103, 102, 108, 104, 106, 101]
    path = tmp_path / "items.parquet"
    pq.write_table(pa.table({
        "item_id": ids,
        "cate_id": [ITEMS[i][0] for i in ids[:-1]] + ["z"],
        "price": [ITEMS[i][1] for i in ids],
    }), path)
    return path


@pytest.mark.parametrize("n_cluster", [2, 3])
def test_init_tree_hangs_items_by_category_under_one_root(tools, item_table: Path, tmp_path: Path, n_cluster: int) -> None:
    out = tmp_path / "tree"
    result = tools(
        "tdm-init-tree", "--item_input_path", item_table, "--item_id_field", "item_id", "--cate_id_field", "cate_id",
        "--attr_fields", "cate_id", "--raw_attr_fields", "price", "--tree_output_dir", out, "--n_cluster", n_cluster,
    )
    depth = 4 if n_cluster == 2 else 3  # 10 leaves: 2^4 >= 10 > 2^3, 3^3 >= 10 > 3^2
    assert f"levels: {depth + 1}" in result.stdout
    t = read_tree(out)
    nodes, parent = t["nodes"], t["parent"]
    level = {n: int(f[0]) for n, f in nodes.items()}
    leaves = [n for n in nodes if level[n] == depth]
    assert sorted(leaves) == sorted(ITEMS)
    # internal nodes: ids after the items', root first, no category, price = mean of the items below
    internal = sorted(n for n in nodes if level[n] < depth)
    assert internal[0] == 110 and level[110] == 0 and [level[n] for n in internal] == sorted(level[n] for n in internal)
    below: dict[int, list[int]] = {}
    for leaf in leaves:
        assert nodes[leaf] == [str(depth), str(leaf), ITEMS[leaf][0], f"{ITEMS[leaf][1]:g}"]
        path, node = [], leaf
        while node in parent:  # every leaf reaches the root, one level per step
            node = parent[node]
            path.append(node)
            below.setdefault(node, []).append(leaf)
        assert [level[n] for n in path] == list(range(depth - 1, -1, -1))
        assert t["ancestors"][leaf] == path[:-1]  # nearest first, without the root
    for node in internal:
        assert nodes[node][2] == "" and float(nodes[node][3]) == pytest.approx(np.mean([ITEMS[i][1] for i in below[node]]))
        assert len([c for c, p in parent.items() if p == node]) <= n_cluster
    # leaves in (category, id) order, left to right under parents in id order
    assert leaves == [i for _, i in sorted((c, i) for i, (c, _) in ITEMS.items())]
    assert [parent[x] for x in leaves] == sorted(parent[x] for x in leaves)
    # the items of category "a" (4 of them) share their parent's parent with n_cluster 2
    if n_cluster == 2:
        assert len({parent[parent[i]] for i, (c, _) in ITEMS.items() if c == "a"}) == 1
    # serving tree: "<levels> <n_cluster>", then codes of a complete tree (children of c: c*n+1..c*n+n)
    lines = (out / "serving_tree").read_text().split("\n")
    assert lines[0] == f"{depth + 1} {n_cluster}"
    code = {int(i): int(c) for c, i in (line.split() for line in lines[1:] if line)}
    assert code[110] == 0 and all((code[c] - 1) // n_cluster == code[p] for c, p in parent.items())


def test_the_sampler_reads_the_init_tree(tools, item_table: Path, tmp_path: Path) -> None:
    out = tmp_path / "tree"
    tools("tdm-init-tree", "--item_input_path", item_table, "--cate_id_field", "cate_id", "--attr_fields", "cate_id", "--tree_output_dir", out)
    config = SimpleNamespace(
        item_input_path=str(out / "node_table.txt"), edge_input_path=str(out / "edge_table.txt"),
        predict_edge_input_path=str(out / "predict_edge_table.txt"), attr_fields=["tree_level", "item_id", "cate_id"],
        item_id_field="item_id", layer_num_sample=[0, 1, 1, 1, 2], attr_delimiter=":", field_delimiter="",
        remain_ratio=1.0, probability_type="UNIFORM", num_sample=0, num_eval_sample=0,
    )
    sampler = TDMSampler(config, mode="eval")
    batch = pa.record_batch({"item_id": pa.array([101, 108], pa.int64()), "clk": pa.array([1, 1])})
    expanded = sampler.apply(batch, np.random.default_rng(0))
    t = read_tree(out)
    positives = expanded.column("item_id").to_pylist()[2 : 2 + 2 * 3]
    assert positives == t["ancestors"][101][::-1] + t["ancestors"][108][::-1]


def test_init_tree_errors_name_the_argument(tools, item_table: Path, tmp_path: Path) -> None:
    bad = tools("tdm-init-tree", "--item_input_path", item_table, "--tree_output_dir", tmp_path / "t", "--n_cluster", "1", check=False)
    assert bad.returncode == 2 and "--n_cluster" in bad.stderr
    missing = tools("tdm-init-tree", "--item_input_path", item_table, "--attr_fields", "brand", "--tree_output_dir", tmp_path / "t", check=False)
    assert missing.returncode == 2 and "brand" in missing.stderr


def test_capacity_assign_fills_every_cluster_exactly() -> None:
    rng = np.random.default_rng(0)
    d = rng.random((37, 3))
    labels = capacity_assign(d, np.array([16, 16, 5]))
    assert np.bincount(labels, minlength=3).tolist() == [16, 16, 5]
    # two clusters: the split of the sorted distance margin, the optimum
    d2 = rng.random((20, 2))
    labels = capacity_assign(d2, np.array([8, 12]))
    margin = d2[:, 0] - d2[:, 1]
    assert set(np.flatnonzero(labels == 0)) == set(np.argsort(margin)[:8])


def groups_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """16 items in 4 tight, far apart groups of 4, ids shuffled against the groups."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32)
    group = np.repeat(np.arange(4), 4)
    x = centers[group] + rng.normal(0, 0.1, (16, 2)).astype(np.float32)
    ids = rng.permutation(16) + 1000
    return ids, group, x


def test_cluster_tree_groups_items_with_close_embeddings(tools, tmp_path: Path) -> None:
    ids, group, x = groups_data()
    path = tmp_path / "emb.parquet"
    pq.write_table(pa.table({"item_id": ids, "item_emb": pa.array(x.tolist(), pa.list_(pa.float32())), "cate_id": group.astype(str)}), path)
    trees = {}
    for parallel in (1, 2):
        out = tmp_path / f"tree{parallel}"
        tools(
            "tdm-cluster-tree", "--item_input_path", path, "--embedding_field", "item_emb", "--attr_fields", "cate_id",
            "--node_edge_output_file", out, "--n_cluster", "2", "--parallel", parallel,
        )
        trees[parallel] = read_tree(out)
        assert not (out / "serving_tree").exists()
    assert trees[1] == trees[2]
    parent = trees[1]["parent"]
    # each group is exactly the 4 leaves under one level-2 node
    grand = {int(i): parent[parent[int(i)]] for i in ids}
    for g in range(4):
        assert len({grand[int(i)] for i in ids[group == g]}) == 1
    assert len(set(grand.values())) == 4
    # the leaves' attr is carried over
    assert all(trees[1]["nodes"][int(i)][2] == str(g) for i, g in zip(ids, group))


def test_cluster_order_sizes_follow_the_complete_tree() -> None:
    x = np.random.default_rng(1).normal(size=(13, 3)).astype(np.float32)
    order = cluster_order(x, 3)
    assert sorted(order.tolist()) == list(range(13))


def scored_tree(num_items: int, n_cluster: int, users: int, seed: int, heap: bool) -> tuple[TreeIndex, np.ndarray, np.ndarray]:
    """A complete tree, node scores per user ([users, nodes]) and the leaf rows.

    heap: an internal node scores as the best leaf below it (the max-heap TDM learns towards).
    """
    tree = complete_tree(np.arange(num_items) * 7 + 3, n_cluster)
    child = np.flatnonzero(tree.parents >= 0)
    index = TreeIndex.from_edges(tree.levels, tree.parents[child], child)
    scores = np.random.default_rng(seed).random((users, len(tree.ids)))
    if heap:
        by_node = scores.T  # a view: [nodes, users]
        by_node[tree.levels < tree.depth] = 0
        for lv in range(tree.depth, 0, -1):
            rows_ = np.flatnonzero(tree.levels == lv)
            np.maximum.at(by_node, tree.parents[rows_], by_node[rows_])
    return index, scores, tree.leaf_rows()


@pytest.mark.parametrize(("num_items", "n_cluster", "recall_num"), [(50, 2, 5), (50, 3, 7), (81, 3, 10), (9, 2, 20)])
def test_wide_beam_finds_exactly_the_brute_force_top_leaves(num_items: int, n_cluster: int, recall_num: int) -> None:
    index, scores, leaves = scored_tree(num_items, n_cluster, users=6, seed=num_items + n_cluster, heap=False)
    calls = []

    def score(users: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        calls.append(len(users))
        return scores[users, nodes]

    got = beam_search(index, 6, score, recall_num, beam_size=max(num_items, recall_num))
    top = leaves[np.argsort(-scores[:, leaves], axis=1)[:, :recall_num]]
    assert np.array_equal(got, top)
    assert len(calls) <= index.depth  # one scorer call per level, for all users at once
    # a beam narrower than a level, with node scores unrelated to the leaves below: not brute force
    narrow = beam_search(index, 6, score, min(recall_num, 3), beam_size=min(recall_num, 3))
    assert narrow.shape == (6, min(recall_num, 3, num_items)) and set(narrow.ravel()) <= set(leaves)


def test_beam_of_recall_num_is_exact_under_max_heap_scores() -> None:
    index, scores, leaves = scored_tree(200, 2, users=8, seed=3, heap=True)
    got = beam_search(index, 8, lambda u, n: scores[u, n], 10, beam_size=10)
    assert np.array_equal(got, leaves[np.argsort(-scores[:, leaves], axis=1)[:, :10]])


def test_tree_index_rejects_a_leaf_above_the_deepest_level() -> None:
    # root 0 -> 1, 2; 1 -> 3; node 2 is a leaf at level 1, node 3 at level 2
    with pytest.raises(DataError, match="has no children"):
        TreeIndex.from_edges(np.array([0, 1, 1, 2]), np.array([0, 0, 1]), np.array([1, 2, 3]))
    with pytest.raises(DataError, match="one level below"):
        TreeIndex.from_edges(np.array([0, 1, 2]), np.array([0, 0]), np.array([1, 2]))


def test_load_tree_skips_the_helper_node_of_torcheasyrec_tables(tmp_path: Path) -> None:
    # TorchEasyRec writes a node -1 (level -1) and an edge -1 -> root, with "," as attr delimiter
    (tmp_path / "nodes.txt").write_text(
        "id:int64\tweight:float\tfeature:string\n-1\t1.0\t-1,3,\n3\t1.0\t0,3,\n1\t1.0\t1,1,x\n2\t1.0\t1,2,y\n"
    )
    (tmp_path / "edges.txt").write_text("src_id:int64\tdst_id:int64\tweight:float\n-1\t3\t1.0\n3\t1\t1.0\n3\t2\t1.0\n")
    sampler = SimpleNamespace(
        item_input_path=str(tmp_path / "nodes.txt"), predict_edge_input_path=str(tmp_path / "edges.txt"),
        attr_fields=["tree_level", "item_id", "cate_id"], attr_delimiter=",", field_delimiter="",
    )
    index, nodes = load_tree(sampler)
    assert nodes.ids[index.root] == 3 and index.depth == 1
    got = beam_search(index, 1, lambda u, n: nodes.ids[n].astype(float), 2)
    assert nodes.ids[got[0]].tolist() == [2, 1]


def test_the_three_commands_are_listed(tools) -> None:
    listed = tools("--help").stdout
    for name in ("tdm-init-tree", "tdm-cluster-tree", "tdm-retrieval"):
        assert name in listed

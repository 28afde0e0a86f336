"""Full-corpus top-K evaluation of a trained two-tower model (LCFN / UltraGCN / SimpleX protocol).

For every user with test items: score ALL items by the towers' similarity, drop the user's
training items, take the top K. Recall@K = hits / number of the user's test items; NDCG@K =
sum over hits of 1/log2(rank + 2) divided by the ideal DCG of min(#test items, K) hits. Both are
averaged over the test users.

The embeddings come from `rec-predict` on the trained checkpoint (output columns
`user_tower_emb`, `item_tower_emb`), so this scores exactly what rec serves. The data directory
is the output of examples/ml1m/prepare_data.py: `train.parquet` and `test.parquet` (or
`valid.parquet`, to choose a config without touching test), one
(user_id, item_id, label) row per interaction, ids 0-based and contiguous.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]


def _pairs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    t = pq.read_table(path, columns=["user_id", "item_id"])
    return t.column("user_id").to_numpy(), t.column("item_id").to_numpy()


def tower_embeddings(model_dir: Path, users: pa.Table, items: pa.Table, log_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """User [len(users), D] and item [len(items), D] tower outputs of the latest checkpoint in
    model_dir. Row r of `users` / `items` holds id r (`user_id` / `item_id`) and the features
    its tower reads."""
    rows = max(users.num_rows, items.num_rows)
    r = np.arange(rows)
    # row r carries user r % len(users) and item r % len(items), so one pass embeds every id
    table = users.take(pa.array(r % users.num_rows))
    for column in items.column_names:
        table = table.append_column(column, items.column(column).take(pa.array(r % items.num_rows)))
    entities = model_dir / "entities.parquet"
    pq.write_table(table.append_column("label", pa.array(np.ones(rows, np.int64))), entities)
    out = model_dir / "embeddings"
    args = [
        sys.executable, "-m", "rec_dist.cli.predict",
        "--pipeline_config_path", str(model_dir / "pipeline.config"),
        "--predict_input_path", str(entities), "--predict_output_path", str(out),
        "--reserved_columns", "user_id,item_id", "--output_columns", "user_tower_emb,item_tower_emb",
    ]  # fmt: skip
    with open(log_path, "a") as log:
        log.write("$ " + " ".join(args) + "\n")
        log.flush()
        subprocess.run(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
    t = pq.read_table(sorted(out.glob("*.parquet")))

    def by_id(id_column: str, emb_column: str, n: int) -> np.ndarray:
        emb = np.stack(t.column(emb_column).to_numpy(zero_copy_only=False)).astype(np.float32)
        ordered = np.zeros((n, emb.shape[1]), np.float32)
        ordered[t.column(id_column).to_numpy()] = emb
        return ordered

    return by_id("user_id", "user_tower_emb", users.num_rows), by_id("item_id", "item_tower_emb", items.num_rows)


def recall_ndcg(scores: np.ndarray, train: list[np.ndarray], test: list[np.ndarray], k: int) -> dict[str, float]:
    """Mean Recall@k / NDCG@k over users with test items; `scores` [users, items] is modified."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    recalls, ndcgs = [], []
    for u, truth in enumerate(test):
        if len(truth) == 0:
            continue
        row = scores[u]
        row[train[u]] = -np.inf
        top = np.argpartition(-row, k)[:k]
        top = top[np.argsort(-row[top], kind="stable")]
        hits = np.isin(top, truth)
        recalls.append(hits.sum() / len(truth))
        ndcgs.append((hits * discount).sum() / discount[: min(len(truth), k)].sum())
    return {f"recall@{k}": float(np.mean(recalls)), f"ndcg@{k}": float(np.mean(ndcgs)), "test_users": len(recalls)}


def by_user(users: np.ndarray, items: np.ndarray, num_users: int) -> list[np.ndarray]:
    """The items of each user 0..num_users-1."""
    order = np.argsort(users, kind="stable")
    bounds = np.searchsorted(users[order], np.arange(num_users + 1))
    return [items[order[bounds[u] : bounds[u + 1]]] for u in range(num_users)]


def evaluate_retrieval(model_dir: Path, data: Path, k: int, log_path: Path, split: str = "test") -> dict[str, float]:
    """Recall@k and NDCG@k of the trained model on data/<split>.parquet, data/train.parquet items excluded."""
    train_u, train_i = _pairs(data / "train.parquet")
    test_u, test_i = _pairs(data / f"{split}.parquet")
    num_users = int(max(train_u.max(), test_u.max())) + 1
    num_items = int(max(train_i.max(), test_i.max())) + 1
    users = pa.table({"user_id": np.arange(num_users, dtype=np.int64)})
    items = pa.table({"item_id": np.arange(num_items, dtype=np.int64)})
    user_emb, item_emb = tower_embeddings(model_dir, users, items, log_path)
    scores = user_emb @ item_emb.T
    return recall_ndcg(scores, by_user(train_u, train_i, num_users), by_user(test_u, test_i, num_users), k)

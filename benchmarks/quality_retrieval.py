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


def tower_embeddings(model_dir: Path, num_users: int, num_items: int, log_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """User [num_users, D] and item [num_items, D] tower outputs of the latest checkpoint in model_dir."""
    rows = max(num_users, num_items)
    ids = np.arange(rows, dtype=np.int64)
    entities = model_dir / "entities.parquet"
    # row r carries user r % num_users and item r % num_items, so one pass embeds every id
    pq.write_table(
        pa.table({"user_id": ids % num_users, "item_id": ids % num_items, "label": np.ones(rows, np.int64)}), entities
    )
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
    user_ids, item_ids = t.column("user_id").to_numpy(), t.column("item_id").to_numpy()

    def matrix(column: str) -> np.ndarray:
        return np.stack(t.column(column).to_numpy(zero_copy_only=False)).astype(np.float32)

    users, items = matrix("user_tower_emb"), matrix("item_tower_emb")
    user_emb = np.zeros((num_users, users.shape[1]), np.float32)
    item_emb = np.zeros((num_items, items.shape[1]), np.float32)
    user_emb[user_ids] = users
    item_emb[item_ids] = items
    return user_emb, item_emb


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
    user_emb, item_emb = tower_embeddings(model_dir, num_users, num_items, log_path)
    scores = user_emb @ item_emb.T
    return recall_ndcg(scores, by_user(train_u, train_i, num_users), by_user(test_u, test_i, num_users), k)

"""Plain-PyTorch DeepFM trained the way BARS / FuxiCTR v1.1 trains it, for comparison with rec.

Not part of rec: this script checks what the rebuilt training set gives under BARS's own recipe,
which rec cannot fully express (see README.md, "Why rec is below BARS"). It follows FuxiCTR v1.1:
per-field embeddings (dim 10, init normal std 1e-4) plus a 1-wide LR embedding and bias, FM,
DNN [400, 400, 400] with BatchNorm, ReLU and dropout 0.2 (xavier_normal Linear init), Adam
lr 1e-3, batch 4096, L2 of embedding_regularizer/2 * ||E||^2 on every embedding table, gradient
norm clipped at 10, lr x0.1 whenever valid AUC does not improve, early stop after 2 such epochs,
then the best-valid model is scored on test.

    uv run python examples/frappe/reference_torch.py --data_dir /tmp/rec_frappe
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow.parquet as pq
import torch
from torch import nn
from torchmetrics.functional.classification import binary_auroc

FIELDS = ["user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city"]
NUM_IDS = 5382


def load(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    t = pq.read_table(path)
    x = torch.tensor(np.stack([t.column(f).to_numpy() for f in FIELDS], 1))
    return x, torch.tensor(t.column("label").to_numpy(), dtype=torch.float32)


class DeepFM(nn.Module):
    def __init__(self, dim: int = 10, hidden: tuple[int, ...] = (400, 400, 400), dropout: float = 0.2) -> None:
        super().__init__()
        self.emb = nn.ModuleList(nn.Embedding(NUM_IDS, dim) for _ in FIELDS)
        self.lr_emb = nn.ModuleList(nn.Embedding(NUM_IDS, 1) for _ in FIELDS)
        self.bias = nn.Parameter(torch.zeros(1))
        layers: list[nn.Module] = []
        width = dim * len(FIELDS)
        for units in hidden:
            layers += [nn.Linear(width, units), nn.BatchNorm1d(units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        layers.append(nn.Linear(width, 1))
        self.dnn = nn.Sequential(*layers)
        for e in self.embeddings():
            nn.init.normal_(e.weight, std=1e-4)
        for m in self.dnn:
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def embeddings(self) -> list[nn.Embedding]:
        return list(self.emb) + list(self.lr_emb)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = torch.stack([table(x[:, i]) for i, table in enumerate(self.emb)], 1)
        lr = sum(table(x[:, i]) for i, table in enumerate(self.lr_emb)) + self.bias
        fm = 0.5 * (e.sum(1).pow(2) - e.pow(2).sum(1)).sum(1, keepdim=True)
        return (lr + fm + self.dnn(e.flatten(1))).squeeze(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default="/tmp/rec_frappe", help="output of prepare_data.py")
    p.add_argument("--seed", type=int, default=2021)
    p.add_argument("--embedding_regularizer", type=float, default=0.05)
    p.add_argument("--max_epochs", type=int, default=100)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    xtr, ytr = load(f"{args.data_dir}/train.parquet")
    xva, yva = load(f"{args.data_dir}/valid.parquet")
    xte, yte = load(f"{args.data_dir}/test.parquet")
    model = DeepFM()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bce = nn.BCEWithLogitsLoss()

    def evaluate(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        model.eval()
        with torch.no_grad():
            prob = torch.sigmoid(torch.cat([model(x[i : i + 65536]) for i in range(0, len(x), 65536)]))
        model.train()
        logloss = nn.functional.binary_cross_entropy(prob.double(), y.double()).item()
        return binary_auroc(prob, y.long()).item(), logloss

    best, bad, best_state, rows, t0 = -1.0, 0, None, 0, time.perf_counter()
    for epoch in range(args.max_epochs):
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 4096):
            idx = perm[i : i + 4096]
            loss = bce(model(xtr[idx]), ytr[idx])
            if args.embedding_regularizer:
                loss = loss + sum(args.embedding_regularizer / 2 * e.weight.pow(2).sum() for e in model.embeddings())
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 10)
            opt.step()
            rows += len(idx)
        auc, logloss = evaluate(xva, yva)
        print(f"epoch {epoch + 1} valid auc {auc:.6f} logloss {logloss:.6f} lr {opt.param_groups[0]['lr']:.0e}", flush=True)
        if auc < best + 1e-6:
            bad += 1
            for g in opt.param_groups:
                g["lr"] = max(g["lr"] * 0.1, 1e-6)
        else:
            bad, best = 0, auc
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        if bad >= 2:
            break
    print(f"samples/s (with per-epoch eval): {rows / (time.perf_counter() - t0):.0f}")
    assert best_state is not None
    model.load_state_dict(best_state)
    (va_auc, va_ll), (te_auc, te_ll) = evaluate(xva, yva), evaluate(xte, yte)
    print(f"best model: valid auc {va_auc:.6f} logloss {va_ll:.6f} | test auc {te_auc:.6f} logloss {te_ll:.6f}")


if __name__ == "__main__":
    main()

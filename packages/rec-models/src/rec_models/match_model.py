"""MatchModel: two-tower retrieval (user tower, item tower, similarity, sampled softmax).

The user tower reads `__BASE__` (B rows); with a negative sampler the item tower reads the
`__NEG__` / `__CNEG__` features of the B positive items followed by the N sampled ones.
Each user row is scored against its positive and every sampled item, plus its own hard
negatives (`hard_neg_indices`), and trained with softmax cross-entropy where the positive is
class 0; sampled items the sampler lists for a row (`masked_neg_indices`: positives of the
row's user) are left out of that row's softmax. With `in_batch_negative` every item row is a candidate for every user and user i's
positive is item i.

The towers work alone (`user_tower_emb`, `item_tower_emb`, `MatchTowerWrapper`) so a tower
can be exported and item embeddings indexed.
"""

# No `from __future__ import annotations`: MatchTowerWrapper is the root of FX traces, and
# TorchScript cannot resolve string annotations copied into them.

from collections.abc import Sequence
from typing import Any, Dict, List  # noqa: UP035  (TorchScript reads typing names)

import torch
from torch import nn
from torch.nn import functional as F
from torchrec.sparse.jagged_tensor import JaggedTensor, KeyedJaggedTensor, KeyedTensor

from rec_core.batch import BASE_DATA_GROUP, NEG_DATA_GROUP, Batch
from rec_core.errors import ConfigError
from rec_features.features.base import BaseFeature
from rec_features.sampled import HARD_NEG_INDICES, MASKED_NEG_INDICES, data_group
from rec_models.losses import create_loss, weighted_mean
from rec_models.metrics import create_metric, create_train_metric
from rec_models.model import BaseModel
from rec_models.modules.data_groups import DataGroupEmbedding, group_rows
from rec_models.modules.mlp import MLP
from rec_models.modules.variational_dropout import attach_variational_dropout, variational_dropout_losses

COSINE, INNER_PRODUCT = 0, 1  # rec.protos.Similarity


@torch.fx.wrap
def hard_negative_logits(user: torch.Tensor, hard_items: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """[B, S]: user row r's score against its hard negative in slot s at [r, s]; empty slots masked.

    S is one more than the largest slot, so rows with fewer hard negatives than others get
    masked columns that no softmax or top-k can pick.
    """
    rows, slots = indices[:, 0].long(), indices[:, 1].long()
    width = int(slots.max()) + 1 if slots.numel() > 0 else 0
    out = torch.full((user.size(0), width), torch.finfo(user.dtype).min, dtype=user.dtype, device=user.device)
    out[rows, slots] = (user[rows] * hard_items).sum(dim=1)
    return out


@torch.fx.wrap
def mask_pairs(logits: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """`logits` with [row, column] of every pair in `indices` ([M, 2]) set so low no softmax or top-k picks it."""
    if indices.numel() == 0:
        return logits
    low = torch.full((indices.size(0),), torch.finfo(logits.dtype).min, dtype=logits.dtype, device=logits.device)
    return logits.index_put((indices[:, 0].long(), indices[:, 1].long()), low)


def feature_group(model_config: Any, name: str, where: str) -> Any:
    """The FeatureGroupConfig called `name`."""
    for g in model_config.feature_groups:
        if g.group_name == name:
            return g
    names = [g.group_name for g in model_config.feature_groups]
    raise ConfigError(where, f"no feature group named {name!r}; groups: {names}")


class MatchModel(BaseModel):
    """Similarity, loss and recall@k of a two-tower model; subclasses build the towers.

    A subclass implements `user_tower_emb(batch)` ([B, D]) and `item_tower_emb(batch)`
    ([B + N, D]); `tower_groups` names each tower's feature groups (by default the
    `user_tower.input` and `item_tower.input` of the model message).
    """

    def __init__(
        self,
        model_config: Any,
        features: Sequence[BaseFeature],
        labels: Sequence[str],
        sample_weights: Sequence[str] = (),
        device: torch.device | None = None,
    ) -> None:
        super().__init__(model_config, features, labels, sample_weights, device)
        self.kind = model_config.WhichOneof("model")
        cfg = getattr(model_config, self.kind)
        self.where = f"model_config.{self.kind}"
        self.similarity = int(cfg.similarity)
        if self.similarity not in (COSINE, INNER_PRODUCT):
            raise ConfigError(f"{self.where}.similarity", "match models score by COSINE or INNER_PRODUCT")
        self.temperature = float(cfg.temperature)
        if self.temperature <= 0:
            raise ConfigError(f"{self.where}.temperature", f"must be positive, got {self.temperature}")
        self.in_batch_negative = bool(cfg.in_batch_negative)
        self.output_dim = int(cfg.output_dim)
        losses = list(model_config.losses)
        if len(losses) != 1 or losses[0].WhichOneof("loss") != "softmax_cross_entropy":
            raise ConfigError("model_config.losses", "a match model takes exactly one loss: softmax_cross_entropy")
        # the class count is the similarity's width, known per batch; 2 satisfies the loss's check
        self.loss_name, module = create_loss(losses[0], 2)
        self.loss_modules[self.loss_name] = module
        self.train_metrics = nn.ModuleDict()
        for field, create, target in (
            ("metrics", create_metric, self.metrics),
            ("train_metrics", create_train_metric, self.train_metrics),
        ):
            for i, metric_cfg in enumerate(getattr(model_config, field)):
                kind = metric_cfg.WhichOneof("metric")
                if kind != "recall_at_k":
                    raise ConfigError(f"model_config.{field}[{i}]", f"match models report recall_at_k only, got {kind}")
                # the class count is the similarity's width, known per batch
                target[f"recall@{int(metric_cfg.recall_at_k.top_k)}"] = create(metric_cfg, 2)[1]
        self.sample_weight = self.sample_weights[0] if self.sample_weights else ""
        self.user_groups, self.item_groups = self.tower_groups(cfg)
        self._check_towers()

    def tower_groups(self, cfg: Any) -> tuple[list[str], list[str]]:
        """(user tower's feature groups, item tower's feature groups)."""
        return [cfg.user_tower.input], [cfg.item_tower.input]

    def _check_towers(self) -> None:
        """ConfigError unless the user tower reads B rows and the item tower has negatives to compete with."""
        by_name = {f.name: f for f in self.features}
        for name in self.user_groups:
            group = feature_group(self.model_config, name, f"{self.where}.user_tower.input")
            sampled = [n for n in group.feature_names if data_group(by_name[n]) != BASE_DATA_GROUP]
            if sampled:
                raise ConfigError(
                    f"{self.where}.user_tower.input",
                    f"user tower features {sampled} read the sampler's attr_fields; the user tower reads the batch rows only",
                )
        item_rows = {
            group_rows(feature_group(self.model_config, name, f"{self.where}.item_tower.input"), by_name, "model_config.feature_groups")
            for name in self.item_groups
        }
        if len(item_rows) > 1:
            raise ConfigError(
                f"{self.where}.item_tower",
                f"the item tower's groups {self.item_groups} must all read the sampler's attr_fields, or none of them",
            )
        self.sampled = item_rows == {NEG_DATA_GROUP}
        if not self.sampled and not self.in_batch_negative:
            raise ConfigError(
                f"{self.where}.in_batch_negative",
                "the item tower has no negatives: configure a negative sampler in data_config whose attr_fields "
                "are the item tower's inputs, or set in_batch_negative: true",
            )

    def normalize(self, emb: torch.Tensor) -> torch.Tensor:
        """Unit length under COSINE similarity, unchanged otherwise."""
        return F.normalize(emb, dim=-1) if self.similarity == COSINE else emb

    def user_tower_emb(self, batch: Batch) -> torch.Tensor:
        """User embeddings [B, output_dim]."""
        raise NotImplementedError

    def item_tower_emb(self, batch: Batch) -> torch.Tensor:
        """Item embeddings: the B positives, then the N sampled items."""
        raise NotImplementedError

    def sim(self, user: torch.Tensor, item: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Logits [B, candidates] (already divided by the temperature); see the module docstring."""
        user = user / self.temperature
        if self.in_batch_negative:
            return user @ item.T
        b = user.size(0)
        pos = (user * item[:b]).sum(dim=1, keepdim=True)
        if not self.sampled:
            return pos
        hard = batch.additional_infos[HARD_NEG_INDICES]
        first_hard = item.size(0) - hard.size(0)
        simple = mask_pairs(user @ item[b:first_hard].T, batch.additional_infos[MASKED_NEG_INDICES])
        return torch.cat([pos, simple, hard_negative_logits(user, item[first_hard:], hard)], dim=1)

    def predict(self, batch: Batch) -> dict[str, torch.Tensor]:
        """`similarity` [B, candidates], plus `user_tower_emb` [B, D] and `item_tower_emb` [B + N, D]."""
        user, item = self.user_tower_emb(batch), self.item_tower_emb(batch)
        return {"similarity": self.sim(user, item, batch), "user_tower_emb": user, "item_tower_emb": item}

    def positives(self, similarity: torch.Tensor) -> torch.Tensor:
        """Column of each row's positive: its own row (in-batch negatives) or column 0."""
        if self.in_batch_negative:
            return torch.arange(similarity.size(0), device=similarity.device)
        return torch.zeros(similarity.size(0), dtype=torch.long, device=similarity.device)

    def loss(self, predictions: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        sim = predictions["similarity"]
        weights = batch.sample_weights[self.sample_weight] if self.sample_weight else None
        losses = {self.loss_name: weighted_mean(self.loss_modules[self.loss_name](sim, self.positives(sim)), weights)}
        losses.update(variational_dropout_losses(self))
        return losses

    def update_metric(
        self, predictions: dict[str, torch.Tensor], batch: Batch, losses: dict[str, torch.Tensor] | None = None
    ) -> None:
        sim = predictions["similarity"].detach()
        positive = self.positives(sim)
        for metric in self.metrics.values():
            metric.update(sim, positive)
        if losses:
            self._track_loss(losses, sim.size(0))

    def update_train_metric(self, predictions: dict[str, torch.Tensor], batch: Batch) -> None:
        """Feed one training batch to the decayed `train_metrics` (recall@k)."""
        sim = predictions["similarity"].detach()
        positive = self.positives(sim)
        for metric in self.train_metrics.values():
            metric.update(sim, positive)

    def compute_train_metric(self) -> dict[str, float]:
        """Current decayed train-metric values; they keep accumulating (no reset)."""
        return {name: float(metric.compute()) for name, metric in self.train_metrics.items()}


class MatchTower(nn.Module):
    """A tower over prepared group tensors: MLP, then a linear map to output_dim (unit length for COSINE)."""

    def __init__(self, in_features: int, mlp: Any, output_dim: int, normalize: bool) -> None:
        super().__init__()
        self.mlp = MLP.from_config(in_features, mlp) if mlp is not None else nn.Identity()
        width = self.mlp.output_dim if mlp is not None else in_features
        self.output = nn.Linear(width, output_dim)
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[rows, in_features] -> [rows, output_dim]."""
        y = self.output(self.mlp(x))
        return F.normalize(y, dim=-1) if self.normalize else y


def tower_mlp(tower_config: Any) -> Any:
    """The tower's MLP message, or None when unset."""
    return tower_config.mlp if tower_config.HasField("mlp") else None


def group_embedding(model: MatchModel, groups: Sequence[str], where: str) -> DataGroupEmbedding:
    """A DataGroupEmbedding over the named feature groups of the model's config."""
    configs = [feature_group(model.model_config, g, where) for g in groups]
    embedding = DataGroupEmbedding(model.features, configs, model.device_hint, "model_config.feature_groups")
    attach_variational_dropout(model, embedding, configs)
    return embedding


class MatchTowerWrapper(nn.Module):
    """One tower as an exportable module: flat tensors of that tower's features -> {`<tower>_tower_emb`}.

    Inputs follow `Batch.to_dict()` (`feature.values/.lengths/.weights`, dense by name, raw
    sequences as `.values/.lengths`) for the tower's features only; the model's other features
    are filled empty so shared embedding groups still see every key they expect. Multi-value
    sequences (element id counts) are not supported.
    """

    def __init__(self, model: MatchModel, tower: str) -> None:
        super().__init__()
        if tower not in ("user", "item"):
            raise ValueError(f"tower must be 'user' or 'item', got {tower!r}")
        self.model = model
        self.tower = tower
        groups = model.user_groups if tower == "user" else model.item_groups
        names = {n for g in groups for n in feature_group(model.model_config, g, "tower").feature_names}
        self.input_keys: List[str] = [f.name for f in model.features if f.name in names]
        self.output_name = f"{tower}_tower_emb"
        # per data group: (sparse keys, weighted keys, dense keys, dense dims), in the parser's order;
        # raw sequences (`<name>.values` [elements, dim], `<name>.lengths`) by name
        self.layout: Dict[str, Any] = {}
        self.raw_sequences: List[Any] = []
        for f in model.features:
            if getattr(f, "stub_type", False):
                continue  # never emitted
            g = data_group(f)
            sparse, weighted, dense, dims = self.layout.setdefault(g, ([], [], [], []))
            if not f.is_sparse and getattr(f, "is_sequence", False):
                self.raw_sequences.append((f.name, f.value_dim))
            elif f.is_sparse:
                sparse.append(f.name)
                if getattr(f, "weighted", False):
                    weighted.append(f.name)
            else:
                dense.append(f.name)
                dims.append(f.value_dim)
        self.first_input = self.input_keys[0]
        self.first_is_sparse = self.first_input in {f.name for f in model.features if f.is_sparse}

    # typing.Dict: TorchScript reads this signature from the FX-generated code
    def forward(self, data: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:  # noqa: UP006
        """The tower's embeddings for one batch of flat tensors."""
        rows = data[self.first_input + ".lengths"].size(0) if self.first_is_sparse else data[self.first_input].size(0)
        batch = Batch()
        for group, (sparse, weighted, dense, dims) in self.layout.items():
            if sparse:
                values, lengths, weights = [], [], []
                for k in sparse:
                    if k in self.input_keys:
                        values.append(data[k + ".values"])
                        lengths.append(data[k + ".lengths"])
                    else:
                        values.append(torch.zeros(0, dtype=torch.long))
                        lengths.append(torch.zeros(rows, dtype=torch.int32))
                    if weighted:
                        w = data[k + ".weights"] if k in weighted and k in self.input_keys else None
                        weights.append(w if w is not None else torch.ones_like(values[-1], dtype=torch.float32))
                batch.sparse_features[group] = KeyedJaggedTensor(
                    keys=sparse,
                    values=torch.cat(values),
                    lengths=torch.cat(lengths),
                    weights=torch.cat(weights) if weighted else None,
                )
            if dense:
                parts = [data[k] if k in self.input_keys else torch.zeros([rows, d]) for k, d in zip(dense, dims)]
                batch.dense_features[group] = KeyedTensor(keys=dense, length_per_key=dims, values=torch.cat(parts, dim=1))
        for k, d in self.raw_sequences:
            if k in self.input_keys:
                batch.sequence_dense_features[k] = JaggedTensor(values=data[k + ".values"], lengths=data[k + ".lengths"])
            else:
                batch.sequence_dense_features[k] = JaggedTensor(values=torch.zeros([0, d]), lengths=torch.zeros(rows, dtype=torch.int32))
        emb = self.model.user_tower_emb(batch) if self.tower == "user" else self.model.item_tower_emb(batch)
        return {self.output_name: emb}

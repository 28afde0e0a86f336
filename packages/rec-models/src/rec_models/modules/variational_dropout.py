"""Variational dropout over the features of a feature group (TorchEasyRec's, after EasyRec).

Each feature of a group (or each embedding dimension, with embedding_wise_variational_dropout)
learns a drop probability p = sigmoid(feature_p). Training multiplies a feature by
1 - z, z a relaxed (concrete) Bernoulli(p) sample; evaluation multiplies it by 1 - p. The
penalty `regularization_lambda / rows * sum(1 - p)` (reported as `<group>_feature_p_loss`)
pushes every p up, so only features the model needs keep a low p: ranking features by p
is the feature selection `rec-tools feature-selection` does.

A model attaches the dropouts to the module producing its feature groups with
`attach_variational_dropout`; a forward hook rewrites that module's output, so model code
reading `embedding_group(batch)[group]` needs no change.
"""

# No `from __future__ import annotations`: `_set_group` is compiled by TorchScript from FX graphs.

from collections.abc import Sequence
from typing import Any, Dict, List  # noqa: UP035  (TorchScript reads typing names)

import torch
from torch import nn

from rec_core.errors import ConfigError

DEEP, WIDE = 0, 1  # rec.protos.FeatureGroupType members that get a dropout
TEMPERATURE = 0.1  # of the concrete relaxation
_EPS = float(torch.finfo(torch.float32).eps)
LOSS_SUFFIX = "_feature_p_loss"


@torch.fx.wrap
def _set_group(groups: Dict[str, torch.Tensor], name: str, value: torch.Tensor) -> Dict[str, torch.Tensor]:  # noqa: UP006
    groups[name] = value
    return groups


class VariationalDropout(nn.Module):
    """Learned per-feature (or per-dimension) dropout of one group's [rows, width] tensor."""

    def __init__(
        self,
        features_dimension: Dict[str, int],  # noqa: UP006
        name: str,
        regularization_lambda: float = 0.01,
        embedding_wise_variational_dropout: bool = False,
    ) -> None:
        super().__init__()
        if not features_dimension:
            raise ConfigError("model_config.variational_dropout", f"group {name!r} has no features to drop")
        self.group_name = name
        self.features_dimension = dict(features_dimension)
        self.regularization_lambda = float(regularization_lambda)
        self.embedding_wise = bool(embedding_wise_variational_dropout)
        dims = list(self.features_dimension.values())
        self.width = sum(dims)
        # logits of the drop probabilities: one per feature, or one per embedding dimension
        self.feature_p = nn.Parameter(torch.randn(self.width if self.embedding_wise else len(dims)))
        owner = torch.repeat_interleave(torch.arange(len(dims)), torch.tensor(dims))
        self.register_buffer("dim_to_feature", owner, persistent=False)

    def _keep(self, rows: int) -> torch.Tensor:
        """Multiplier of each input column: [rows, width] sampled when training, [1, width] = 1 - p otherwise."""
        p = torch.sigmoid(self.feature_p)
        if self.training:
            p = p.unsqueeze(0).expand(rows, -1)
            u = torch.rand_like(p)
            logits = torch.log(p + _EPS) - torch.log(1.0 - p + _EPS) + torch.log(u + _EPS) - torch.log(1.0 - u + _EPS)
            keep = 1.0 - torch.sigmoid(logits / TEMPERATURE)
        else:
            keep = (1.0 - p).unsqueeze(0)
        return keep if self.embedding_wise else keep.index_select(1, self.dim_to_feature)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:  # noqa: UP006
        """[noisy x, penalty] for the group tensor x [rows, width]."""
        penalty = self.regularization_lambda / x.size(0) * (1.0 - torch.sigmoid(self.feature_p)).sum()
        return [x * self._keep(x.size(0)), penalty]

    def feature_drop_p(self) -> Dict[str, float]:  # noqa: UP006
        """Mean drop probability of each feature (over its dimensions when embedding-wise)."""
        with torch.no_grad():
            p = torch.sigmoid(self.feature_p.detach().float().cpu())
            if self.embedding_wise:
                owner = self.dim_to_feature.cpu()
                sums = torch.zeros(len(self.features_dimension)).index_add_(0, owner, p)
                p = sums / torch.tensor(list(self.features_dimension.values()), dtype=torch.float32)
        return dict(zip(self.features_dimension, p.tolist()))


class GroupVariationalDropouts(nn.ModuleDict):
    """The model's `group_variational_dropouts`: one VariationalDropout per group; `losses` holds
    the penalties of the last forward pass, by `<group>_feature_p_loss`."""

    losses: Dict[str, torch.Tensor]  # noqa: UP006

    def __init__(self) -> None:
        super().__init__()
        self.losses = {}

    def apply_to_output(self, source: nn.Module, inputs: Any, output: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:  # noqa: UP006
        """Forward hook of a group-producing module: its groups with dropout applied."""
        for name in source.variational_dropout_groups:
            noisy, penalty = self[name](output[name])
            output = _set_group(output, name, noisy)
            self.losses[name + LOSS_SUFFIX] = penalty
        return output


def group_entries(group: Any, embedding_group: Any) -> Dict[str, int]:  # noqa: UP006
    """{entry: width} of a DEEP/WIDE group's tensor: its features, then its sequence encoders."""
    names = list(embedding_group.group_features[group.group_name])
    dims = embedding_group.group_dims(group.group_name)
    names += [f"{group.group_name}.sequence_encoders[{i}]" for i in range(len(dims) - len(names))]
    return dict(zip(names, dims))


def attach_variational_dropout(model: nn.Module, source: nn.Module, feature_groups: Sequence[Any]) -> None:
    """Give `model` a dropout for each DEEP/WIDE group of `source` with more than one entry.

    `source` maps a batch to {group: tensor} (an EmbeddingGroup, or a module holding one as
    `embedding_group`); nothing happens unless `model.model_config.variational_dropout` is set.
    """
    config = model.model_config  # type: ignore[attr-defined]
    if not config.HasField("variational_dropout"):
        return
    settings = config.variational_dropout
    embedding_group = getattr(source, "embedding_group", source)
    if not hasattr(model, "group_variational_dropouts"):
        model.group_variational_dropouts = GroupVariationalDropouts()
    dropouts: GroupVariationalDropouts = model.group_variational_dropouts  # type: ignore[assignment]
    groups: List[str] = []  # noqa: UP006
    for group in feature_groups:
        if int(group.group_type) not in (DEEP, WIDE) or not embedding_group.has_group(group.group_name):
            continue
        entries = group_entries(group, embedding_group)
        if len(entries) < 2:
            continue
        dropouts[group.group_name] = VariationalDropout(
            entries, group.group_name, settings.regularization_lambda, settings.embedding_wise_variational_dropout
        )
        groups.append(group.group_name)
    if groups:
        source.variational_dropout_groups = groups  # type: ignore[assignment]
        source.register_forward_hook(dropouts.apply_to_output)


def variational_dropout_losses(model: nn.Module) -> Dict[str, torch.Tensor]:  # noqa: UP006
    """The `<group>_feature_p_loss` penalties of the model's last forward pass (empty without dropout)."""
    dropouts = getattr(model, "group_variational_dropouts", None)
    return dict(dropouts.losses) if dropouts is not None else {}

"""Cross networks: DCN's vector kernel and DCN-v2's matrix kernel (full or low-rank), from TorchRec.

DCN (v1):   x_{l+1} = x_0 * (x_l . w_l) + b_l + x_l          (w_l a vector)
DCN-v2:     x_{l+1} = x_0 * (W_l x_l + b_l) + x_l            (W_l = U_l V_l when low_rank > 0)
"""

# No `from __future__ import annotations`: an FX trace rooted at one of these modules copies
# its forward annotations, and TorchScript cannot resolve them when they are strings.

from typing import Any

from torch import nn
from torchrec.modules.crossnet import CrossNet, LowRankCrossNet, VectorCrossNet

from rec_core.errors import ConfigError


def _layers(config: Any, where: str) -> int:
    num = int(config.cross_num)
    if num < 1:
        raise ConfigError(f"{where}.cross_num", f"must be >= 1, got {num}")
    return num


def cross_net(in_features: int, config: Any, where: str = "cross") -> nn.Module:
    """DCN's cross network from a `Cross` message ([B, in_features] -> same shape)."""
    return VectorCrossNet(in_features, _layers(config, where))


def cross_net_v2(in_features: int, config: Any, where: str = "cross") -> nn.Module:
    """DCN-v2's cross network from a `CrossV2` message: rank `low_rank`, or full rank when it is 0
    or not below `in_features` (a factorisation would then only add parameters)."""
    num = _layers(config, where)
    rank = int(config.low_rank)
    if 0 < rank < in_features:
        return LowRankCrossNet(in_features, num, rank)
    return CrossNet(in_features, num)

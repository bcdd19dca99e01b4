"""BiFPN (Tan, Pang & Le, "EfficientDet", CVPR 2020, Sec. 3): repeated top-down and bottom-up
fusion of P3–P7 with fast normalised weights and depthwise-separable convolutions."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmdat.registry import MODELS
from ..layers import SameConvModule, SameMaxPool2d, SeparableConv2d, variance_scaling_init

WEIGHT_METHODS = ('fastattn', 'sum')


def bifpn_topology(num_levels: int) -> List[Tuple[int, Tuple[int, ...]]]:
    """The nodes of one BiFPN cell as ``(level, input ids)``. Ids 0..num_levels-1 are the cell's
    inputs (P3 first); node k gets id ``num_levels + k``. Top-down nodes from the second-highest level
    to the lowest fuse a level with the node above; bottom-up nodes fuse every earlier feature of
    their level with the node below."""
    ids = {level: [level] for level in range(num_levels)}
    nodes = []
    for level in range(num_levels - 2, -1, -1):
        nodes.append((level, (ids[level][-1], ids[level + 1][-1])))
        ids[level].append(num_levels + len(nodes) - 1)
    for level in range(1, num_levels):
        nodes.append((level, (*ids[level], ids[level - 1][-1])))
        ids[level].append(num_levels + len(nodes) - 1)
    return nodes


class BiFPNNode(nn.Module):
    """One fusion node: bring each input to the node's level (1x1 conv + BN when its width differs,
    nearest upsampling or SAME max pooling), fuse, then activation, separable conv and BN."""

    def __init__(self, level: int, input_ids: Sequence[int], input_levels: Sequence[int],
                 input_channels: Sequence[int], channels: int, weight_method: str,
                 norm_cfg: dict, act_cfg: dict, redundant_bias: bool) -> None:
        super().__init__()
        self.level = level
        self.input_ids = tuple(input_ids)
        self.input_levels = tuple(input_levels)
        self.resample = nn.ModuleList(
            SameConvModule(in_channels, channels, 1, bias=True, norm_cfg=norm_cfg)
            if in_channels != channels else nn.Identity() for in_channels in input_channels)
        self.downsample = SameMaxPool2d(3, 2)
        self.weight_method = weight_method
        self.weights = nn.Parameter(torch.ones(len(input_ids))) if weight_method == 'fastattn' else None
        self.act = build_activation_layer(act_cfg)
        self.conv = SeparableConv2d(channels, channels, 3, bias=redundant_bias, norm_cfg=norm_cfg)

    def forward(self, features: List[Tensor], size: torch.Size) -> Tensor:
        inputs = []
        for feature_id, level, resample in zip(self.input_ids, self.input_levels, self.resample):
            x = resample(features[feature_id])
            if level < self.level:
                x = self.downsample(x)
            elif level > self.level:
                x = F.interpolate(x, size=size, mode='nearest')
            inputs.append(x)
        if self.weights is None:
            fused = torch.stack(inputs).sum(0)
        else:  # fast normalised fusion, Eq. (3) of the EfficientDet paper
            weights = F.relu(self.weights)
            weights = weights / (weights.sum() + 1e-4)
            fused = sum(w * x for w, x in zip(weights, inputs))
        return self.conv(self.act(fused))


class BiFPNCell(nn.Module):
    """One BiFPN layer over ``len(in_channels)`` levels; returns one ``channels``-wide map per level."""

    def __init__(self, in_channels: Sequence[int], channels: int, **node_kwargs) -> None:
        super().__init__()
        num_levels = len(in_channels)
        feature_levels = list(range(num_levels))
        feature_channels = list(in_channels)
        self.nodes = nn.ModuleList()
        for level, input_ids in bifpn_topology(num_levels):
            self.nodes.append(BiFPNNode(level, input_ids, [feature_levels[i] for i in input_ids],
                                        [feature_channels[i] for i in input_ids], channels,
                                        **node_kwargs))
            feature_levels.append(level)
            feature_channels.append(channels)
        self.num_levels = num_levels

    def forward(self, inputs: Sequence[Tensor]) -> List[Tensor]:
        sizes = [x.shape[-2:] for x in inputs]
        features = list(inputs)
        for node in self.nodes:
            features.append(node(features, sizes[node.level]))
        return features[-self.num_levels:]  # the last top-down node (P3) then the bottom-up ones


@MODELS.register_module()
class BiFPN(BaseModule):
    """EfficientDet's feature network.

    The backbone's last level is extended to ``num_outs`` levels (a 1x1 conv + BN, then SAME 3x3/2 max
    pooling per extra level) and ``num_repeats`` BiFPN cells follow.

    Args:
        in_channels (Sequence[int]): backbone channels of P3, P4, P5.
        out_channels (int): BiFPN width (64 for D0 and Lite0).
        num_repeats (int): BiFPN depth (3 for D0 and Lite0).
        num_outs (int): output levels, 5 for P3–P7.
        weight_method (str): ``'fastattn'`` (fast normalised fusion, EfficientDet-D*) or ``'sum'``
            (unweighted, the official EfficientDet-Lite models).
        act_cfg (dict): activation before each node's conv: SiLU (D*) or ReLU6 (Lite).
        redundant_bias (bool): give the separable convs a bias before their BN, as the TensorFlow
            models do (needed to load their checkpoints).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int = 64,
                 num_repeats: int = 3,
                 num_outs: int = 5,
                 weight_method: str = 'fastattn',
                 norm_cfg: dict = dict(type='BN', eps=1e-3, momentum=0.01),
                 act_cfg: dict = dict(type='SiLU'),
                 redundant_bias: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if weight_method not in WEIGHT_METHODS:
            raise ValueError(f'weight_method {weight_method!r} is not one of {WEIGHT_METHODS}')
        if num_outs < len(in_channels):
            raise ValueError(f'num_outs={num_outs} is below the {len(in_channels)} input levels')
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.extra_levels = nn.ModuleList()
        last_channels = self.in_channels[-1]
        for _ in range(num_outs - len(in_channels)):
            conv = (SameConvModule(last_channels, out_channels, 1, bias=True, norm_cfg=norm_cfg)
                    if last_channels != out_channels else nn.Identity())
            self.extra_levels.append(nn.Sequential(conv, SameMaxPool2d(3, 2)))
            last_channels = out_channels
        cell_in = self.in_channels + [out_channels] * (num_outs - len(in_channels))
        node_kwargs = dict(weight_method=weight_method, norm_cfg=norm_cfg, act_cfg=act_cfg,
                           redundant_bias=redundant_bias)
        self.cells = nn.ModuleList()
        for _ in range(num_repeats):
            self.cells.append(BiFPNCell(cell_in, out_channels, **node_kwargs))
            cell_in = [out_channels] * num_outs

    def init_weights(self) -> None:
        """Variance-preserving convs (normal, std 1/sqrt(fan_in)), zero biases."""
        super().init_weights()
        if self.init_cfg is None:
            variance_scaling_init(self)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'BiFPN expects {len(self.in_channels)} input levels, got {len(inputs)}')
        features = list(inputs)
        for extra in self.extra_levels:
            features.append(extra(features[-1]))
        for cell in self.cells:
            features = cell(features)
        return tuple(features)


__all__ = ['BiFPN', 'BiFPNCell', 'BiFPNNode', 'bifpn_topology']

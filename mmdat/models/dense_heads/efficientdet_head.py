"""EfficientDet's class and box networks (EfficientDet paper, Sec. 3.3 and Fig. 3)."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmdet.models.dense_heads import AnchorHead
from mmdet.utils import reduce_mean
from mmengine.model import bias_init_with_prob, normal_init
from torch import Tensor

from mmdat.registry import MODELS
from ..layers import SeparableConv2d, variance_scaling_init


class _LevelSharedTower(nn.Module):
    """``num_repeats`` separable convs shared by all levels, each followed by a BatchNorm of its own
    per level and the activation, then a separable prediction conv (shared)."""

    def __init__(self, channels: int, out_channels: int, num_repeats: int, num_levels: int,
                 norm_cfg: dict, act_cfg: dict, redundant_bias: bool) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            SeparableConv2d(channels, channels, 3, bias=redundant_bias) for _ in range(num_repeats))
        self.norms = nn.ModuleList(
            nn.ModuleList(build_norm_layer(norm_cfg, channels)[1] for _ in range(num_levels))
            for _ in range(num_repeats))
        self.act = build_activation_layer(act_cfg)
        self.predict = SeparableConv2d(channels, out_channels, 3, bias=True)

    def forward(self, x: Tensor, level: int) -> Tensor:
        for conv, norms in zip(self.convs, self.norms):
            x = self.act(norms[level](conv(x)))
        return self.predict(x)


@MODELS.register_module()
class EfficientDetHead(AnchorHead):
    """Class and box networks whose convolutions are shared across P3–P7 while every level keeps its
    own BatchNorm statistics.

    The number of positive anchors that normalises both losses is averaged over all processes
    (``reduce_mean``), as the official model does, so every rank's loss has the same scale.

    Args:
        num_classes (int): object classes.
        in_channels (int): BiFPN width.
        num_repeats (int): separable convs before each prediction (3 for D0–D2 and Lite0–2).
        num_levels (int): pyramid levels (5).
        norm_cfg (dict): per-level BatchNorm.
        act_cfg (dict): SiLU (D*) or ReLU6 (Lite).
        redundant_bias (bool): a bias on the tower convs before their BN, as in the TensorFlow models.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 num_repeats: int = 3,
                 num_levels: int = 5,
                 norm_cfg: dict = dict(type='BN', eps=1e-3, momentum=0.01),
                 act_cfg: dict = dict(type='SiLU'),
                 redundant_bias: bool = True,
                 **kwargs) -> None:
        self.num_repeats = num_repeats
        self.num_levels = num_levels
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.redundant_bias = redundant_bias
        kwargs.setdefault('init_cfg', None)
        super().__init__(num_classes, in_channels, feat_channels=in_channels, **kwargs)

    def _init_layers(self) -> None:
        tower = dict(channels=self.in_channels, num_repeats=self.num_repeats,
                     num_levels=self.num_levels, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg,
                     redundant_bias=self.redundant_bias)
        self.cls_net = _LevelSharedTower(out_channels=self.num_base_priors * self.cls_out_channels,
                                         **tower)
        self.reg_net = _LevelSharedTower(out_channels=self.num_base_priors * 4, **tower)

    def init_weights(self) -> None:
        """Variance-preserving tower convs (normal, std 1/sqrt(fan_in), as TensorFlow's
        ``variance_scaling``), small predictions and a 0.01 prior on every class."""
        super().init_weights()
        variance_scaling_init(self)
        for net in (self.cls_net, self.reg_net):
            normal_init(net.predict.pointwise, std=0.01)
        nn.init.constant_(self.cls_net.predict.pointwise.bias, bias_init_with_prob(0.01))

    def forward(self, x: Sequence[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        if len(x) != self.num_levels:
            raise ValueError(f'EfficientDetHead has {self.num_levels} levels of BatchNorm; '
                             f'got {len(x)} feature maps')
        cls_scores = [self.cls_net(feature, level) for level, feature in enumerate(x)]
        bbox_preds = [self.reg_net(feature, level) for level, feature in enumerate(x)]
        return cls_scores, bbox_preds

    def get_targets(self, *args, **kwargs) -> tuple:
        targets = super().get_targets(*args, **kwargs)
        labels = targets[0][0]
        avg_factor = torch.tensor(float(targets[4]), device=labels.device)
        avg_factor = reduce_mean(avg_factor).clamp_(min=1.0).item()
        return (*targets[:4], avg_factor, *targets[5:])

"""Convolution and max pooling with TensorFlow's ``SAME`` padding, which EfficientNet and EfficientDet
weights trained in TensorFlow assume: the output has ``ceil(input / stride)`` positions and, when the
total padding is odd, the extra row and column go to the bottom and right."""
import math
from typing import Optional, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import Tensor


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> Tuple[int, int]:
    """(before, after) padding of one spatial dimension under TensorFlow's ``SAME`` rule."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: Tensor, kernel: int, stride: int, dilation: int, value: float) -> Tensor:
    top, bottom = same_padding(x.shape[-2], kernel, stride, dilation)
    left, right = same_padding(x.shape[-1], kernel, stride, dilation)
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom), value=value)
    return x


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``SAME`` padding. At stride 1 that padding is symmetric, so the
    convolution pads by itself; only strided convolutions pad explicitly."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, groups: int = 1, bias: bool = True) -> None:
        self.symmetric = stride == 1
        padding = (kernel_size - 1) * dilation // 2 if self.symmetric else 0
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if not self.symmetric:
            x = _pad_same(x, self.kernel_size[0], self.stride[0], self.dilation[0], 0.0)
        return super().forward(x)


class SameMaxPool2d(nn.Module):
    """Max pooling with TensorFlow ``SAME`` padding (padded positions never win)."""

    def __init__(self, kernel_size: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        x = _pad_same(x, self.kernel_size, self.stride, 1, float('-inf'))
        return F.max_pool2d(x, self.kernel_size, self.stride)


class SeparableConv2d(nn.Module):
    """Depthwise ``k x k`` then pointwise ``1 x 1`` convolution (``SAME`` padding), optionally followed
    by a norm layer: the building block of BiFPN and of the EfficientDet heads."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 bias: bool = True, norm_cfg: Optional[dict] = None) -> None:
        super().__init__()
        self.depthwise = SameConv2d(in_channels, in_channels, kernel_size, groups=in_channels,
                                    bias=False)
        self.pointwise = SameConv2d(in_channels, out_channels, 1, bias=bias)
        self.bn = build_norm_layer(norm_cfg, out_channels)[1] if norm_cfg else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.pointwise(self.depthwise(x))
        return self.bn(x) if self.bn is not None else x


class SameConvModule(nn.Module):
    """``SameConv2d`` followed by an optional norm layer and an optional activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, bias: bool = False, norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None) -> None:
        super().__init__()
        self.conv = SameConv2d(in_channels, out_channels, kernel_size, stride=stride,
                               groups=groups, bias=bias)
        self.bn = build_norm_layer(norm_cfg, out_channels)[1] if norm_cfg else None
        self.act = build_activation_layer(act_cfg) if act_cfg else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x) if self.act is not None else x


def variance_scaling_init(module: nn.Module) -> None:
    """Every conv under ``module``: normal weights with std 1/sqrt(fan_in) (TensorFlow's
    ``variance_scaling``, which the EfficientDet BiFPN and heads use), zero biases."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            nn.init.kaiming_normal_(conv.weight, mode='fan_in', nonlinearity='linear')
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

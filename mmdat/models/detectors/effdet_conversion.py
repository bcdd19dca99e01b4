"""Convert checkpoints of the timm-based ``effdet`` package (``tf_efficientdet_*``, trained on COCO
with 90 category slots) to mmdat's :class:`EfficientDet`.

Besides renaming, the box net's outputs are reordered from TensorFlow's (dy, dx, dh, dw) to mmdet's
(dx, dy, dw, dh) per anchor, and ``coco80=True`` keeps only the class channels of the 80 COCO
categories that mmdet's ``CocoDataset`` uses (effdet's channel c is COCO category id c + 1).
"""
import re
from typing import Dict, List, Optional

import torch
from torch import Tensor

from mmdat.utils.checkpoint import CheckpointLoadError, name_keys
from ..necks.bifpn import bifpn_topology

# the 80 category ids of COCO 2017 detection, ascending (the order of mmdet's CocoDataset labels)
COCO80_CATEGORY_IDS = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31,
    32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
    58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87,
    88, 89, 90)
TF_TO_MMDET_BOX = (1, 0, 3, 2)  # (dy, dx, dh, dw) -> (dx, dy, dw, dh)
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_FIRST_BLOCK = {'conv_dw': 'depthwise_conv.conv', 'bn1': 'depthwise_conv.bn',
                'conv_pw': 'project_conv.conv', 'bn2': 'project_conv.bn'}
_BLOCK = {'conv_pw': 'expand_conv.conv', 'bn1': 'expand_conv.bn', 'conv_dw': 'depthwise_conv.conv',
          'bn2': 'depthwise_conv.bn', 'conv_pwl': 'project_conv.conv', 'bn3': 'project_conv.bn'}


def _backbone_key(key: str) -> Optional[str]:
    if key.startswith('conv_stem.'):
        return 'stem.conv.' + key.split('.', 1)[1]
    if key.startswith('bn1.'):
        return 'stem.bn.' + key.split('.', 1)[1]
    match = re.fullmatch(r'blocks\.(\d+)\.(\d+)\.(.+)', key)
    if not match:
        return None
    stage, block, rest = match.groups()
    if rest.startswith('se.conv_reduce.') or rest.startswith('se.conv_expand.'):
        part = rest.split('.')[1].replace('conv_', '')
        return f'stages.{stage}.{block}.se.{part}.{rest.rsplit(".", 1)[1]}'
    part, leaf = rest.split('.', 1)
    names = _FIRST_BLOCK if stage == '0' else _BLOCK
    return f'stages.{stage}.{block}.{names[part]}.{leaf}' if part in names else None


def _fpn_key(key: str, node_inputs: List[tuple]) -> Optional[str]:
    match = re.fullmatch(r'resample\.(\d+)\.conv\.(conv|bn)\.(\w+)', key)
    if match:  # P6 (level index 3) from P5; P7 has no weights
        return f'extra_levels.{int(match[1]) - 3}.0.{match[2]}.{match[3]}'
    match = re.fullmatch(r'cell\.(\d+)\.fnode\.(\d+)\.(.+)', key)
    if not match:
        return None
    cell, node, rest = match[1], int(match[2]), match[3]
    prefix = f'cells.{cell}.nodes.{node}'
    if rest == 'combine.edge_weights':
        return f'{prefix}.weights'
    inner = re.fullmatch(r'combine\.resample\.(\d+)\.conv\.(conv|bn)\.(\w+)', rest)
    if inner:
        position = node_inputs[node].index(int(inner[1]))
        return f'{prefix}.resample.{position}.{inner[2]}.{inner[3]}'
    inner = re.fullmatch(r'after_combine\.conv\.(conv_dw|conv_pw|bn)\.(\w+)', rest)
    if inner:
        part = {'conv_dw': 'depthwise', 'conv_pw': 'pointwise', 'bn': 'bn'}[inner[1]]
        return f'{prefix}.conv.{part}.{inner[2]}'
    return None


def _head_key(key: str, net: str) -> Optional[str]:
    match = re.fullmatch(r'conv_rep\.(\d+)\.(conv_dw|conv_pw)\.(\w+)', key)
    if match:
        part = 'depthwise' if match[2] == 'conv_dw' else 'pointwise'
        return f'bbox_head.{net}.convs.{match[1]}.{part}.{match[3]}'
    match = re.fullmatch(rf'bn_rep\.(\d+)\.(\d+)\.bn\.{_BN}', key)
    if match:
        return f'bbox_head.{net}.norms.{match[1]}.{match[2]}.{match[3]}'
    match = re.fullmatch(r'predict\.(conv_dw|conv_pw)\.(\w+)', key)
    if match:
        part = 'depthwise' if match[1] == 'conv_dw' else 'pointwise'
        return f'bbox_head.{net}.predict.{part}.{match[2]}'
    return None


def _reorder_box(value: Tensor) -> Tensor:
    anchors = value.shape[0] // 4
    index = torch.tensor([a * 4 + j for a in range(anchors) for j in TF_TO_MMDET_BOX])
    return value[index]


def _select_classes(value: Tensor, num_classes: int, category_ids: tuple) -> Tensor:
    anchors = value.shape[0] // num_classes
    index = torch.tensor([a * num_classes + c - 1 for a in range(anchors) for c in category_ids])
    return value[index]


def convert_effdet_state(state: Dict[str, Tensor], num_levels: int = 5,
                         coco80: bool = False) -> Dict[str, Tensor]:
    """Map an effdet ``EfficientDet`` state dict to mmdat keys (``backbone.``, ``neck.``,
    ``bbox_head.``). Every key must be known; the error names the ones that are not."""
    node_inputs = [inputs for _, inputs in bifpn_topology(num_levels)]
    predict_channels = state.get('class_net.predict.conv_pw.weight')
    anchors = state['box_net.predict.conv_pw.weight'].shape[0] // 4 if \
        'box_net.predict.conv_pw.weight' in state else None
    if predict_channels is None or anchors is None:
        raise CheckpointLoadError('not an effdet EfficientDet state dict: no class_net/box_net '
                                  'predict layers')
    num_classes = predict_channels.shape[0] // anchors
    if coco80 and num_classes != 90:
        raise CheckpointLoadError(f'coco80 needs the 90-slot COCO head, this one has {num_classes}')
    converted, unknown = {}, []
    for key, value in state.items():
        group, _, rest = key.partition('.')
        if group == 'backbone':
            target = _backbone_key(rest)
            target = target and 'backbone.' + target
        elif group == 'fpn':
            target = _fpn_key(rest, node_inputs)
            target = target and 'neck.' + target
        elif group in ('class_net', 'box_net'):
            target = _head_key(rest, 'cls_net' if group == 'class_net' else 'reg_net')
        else:
            target = None
        if target is None:
            unknown.append(key)
            continue
        if key.startswith('box_net.predict.conv_pw.'):
            value = _reorder_box(value)
        elif key.startswith('class_net.predict.conv_pw.') and coco80:
            value = _select_classes(value, num_classes, COCO80_CATEGORY_IDS)
        converted[target] = value
    if unknown:
        raise CheckpointLoadError(f'{len(unknown)} effdet keys with no mmdat counterpart: '
                                  f'{name_keys(unknown)}')
    return converted


__all__ = ['COCO80_CATEGORY_IDS', 'convert_effdet_state']

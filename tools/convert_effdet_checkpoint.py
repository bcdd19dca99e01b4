"""Convert a COCO-trained checkpoint of the timm-based ``effdet`` package (``tf_efficientdet_lite0``,
``tf_efficientdet_d0`` ...) into an mmdat EfficientDet checkpoint for ``load_from`` or tools/test.py.

    python tools/convert_effdet_checkpoint.py tf_efficientdet_lite0-dfacfc78.pth \
        checkpoints/efficientdet_lite0_coco80.pth --variant lite0 --coco80

effdet's heads predict 90 COCO category slots; ``--coco80`` keeps the 80 that mmdet's CocoDataset
uses, so the result fits the COCO configs in configs/efficientdet/. The converted state dict is
checked against mmdat's model of that variant: every key must match in name and shape.
"""
import argparse
import os
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdat.apis import readable_errors
from mmdat.models.detectors import EFFICIENTDET_SCALING


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help="effdet checkpoint (a state dict, or a training checkpoint)")
    parser.add_argument('dst', help='output mmdat checkpoint (.pth)')
    parser.add_argument('--variant', required=True, choices=sorted(EFFICIENTDET_SCALING))
    parser.add_argument('--coco80', action='store_true',
                        help='keep the 80 COCO categories of mmdet (default: all 90 slots)')
    return parser.parse_args()


def main() -> None:
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from mmdat.models.detectors.effdet_conversion import convert_effdet_state
    from mmdat.utils import CheckpointLoadError, describe_mismatch, load_checkpoint_file
    args = parse_args()
    if not osp.isfile(args.src):
        raise CheckpointLoadError(f'{args.src}: no such file')
    state = load_checkpoint_file(args.src)
    for key in ('state_dict_ema', 'state_dict', 'model'):  # timm / effdet training checkpoints
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    state = {k[len('model.'):] if k.startswith('model.') else k: v for k, v in state.items()}
    try:
        converted = convert_effdet_state(state, coco80=args.coco80)
    except CheckpointLoadError as err:
        raise CheckpointLoadError(f'{args.src}: {err}') from None
    num_anchors = converted['bbox_head.reg_net.predict.pointwise.bias'].numel() // 4
    num_classes = converted['bbox_head.cls_net.predict.pointwise.bias'].numel() // num_anchors
    init_default_scope('mmdet')
    model = MODELS.build(dict(type='mmdat.EfficientDet', variant=args.variant,
                              num_classes=num_classes))
    mismatch = describe_mismatch(converted, model.state_dict())
    if mismatch:
        raise CheckpointLoadError(f'{args.src} is not an effdet {args.variant}: {mismatch}')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save({'state_dict': converted,
                'meta': dict(source=osp.basename(args.src), variant=args.variant,
                             num_classes=num_classes)}, args.dst)
    print(f'{args.dst}: EfficientDet-{args.variant}, {num_classes} classes, '
          f'{sum(v.numel() for v in converted.values() if v.is_floating_point()) / 1e6:.3f} M values')


if __name__ == '__main__':
    with readable_errors():
        main()

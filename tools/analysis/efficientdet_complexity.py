"""Parameters and FLOPs of every EfficientDet variant in mmdat, next to the published figures.

    python tools/analysis/efficientdet_complexity.py [--num-classes 90] [--variants d0 lite0]

FLOPs are multiply-adds of one image at the variant's input size (the papers' convention), counted by
mmengine's ``FlopAnalyzer`` over backbone, BiFPN and heads (no box decoding or NMS).
"""
import argparse
import os.path as osp
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

# (parameters, FLOPs) published for 90 COCO slots: the EfficientDet paper's Table 2 (D0–D3) and
# effdet 0.4.1's parameter counts of its TensorFlow-ported Lite models
PUBLISHED = {'d0': (3.9e6, 2.5e9), 'd1': (6.6e6, 6.1e9), 'd2': (8.1e6, 11e9), 'd3': (12e6, 25e9),
             'lite0': (3.243e6, None), 'lite1': (4.248e6, None)}


def measure(variant: str, num_classes: int) -> tuple:
    from mmdet.registry import MODELS
    from mmengine.analysis import FlopAnalyzer
    from mmengine.registry import init_default_scope

    from mmdat.models.detectors import EFFICIENTDET_SCALING
    init_default_scope('mmdet')
    model = MODELS.build(dict(type='mmdat.EfficientDet', variant=variant,
                              num_classes=num_classes)).eval()
    size = EFFICIENTDET_SCALING[variant].image_size
    params = sum(p.numel() for p in model.parameters())
    analyzer = FlopAnalyzer(model, (torch.zeros(1, 3, size, size), ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return size, params, analyzer.total()


def main() -> None:
    from mmdat.models.detectors import EFFICIENTDET_SCALING
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--num-classes', type=int, default=90,
                        help='class slots (90: what the papers count for COCO)')
    parser.add_argument('--variants', nargs='+', choices=sorted(EFFICIENTDET_SCALING),
                        default=list(EFFICIENTDET_SCALING))
    args = parser.parse_args()
    print('| variant | input | params (M) | FLOPs (B) | published params (M) | published FLOPs (B) |')
    print('|---|---|---|---|---|---|')
    for variant in args.variants:
        size, params, flops = measure(variant, args.num_classes)
        paper_params, paper_flops = PUBLISHED.get(variant, (None, None))
        shown = [f'{paper_params / 1e6:.3g}' if paper_params else '',
                 f'{paper_flops / 1e9:.3g}' if paper_flops else '']
        print(f'| {variant} | {size} | {params / 1e6:.3f} | {flops / 1e9:.2f} | {shown[0]} | '
              f'{shown[1]} |', flush=True)


if __name__ == '__main__':
    main()

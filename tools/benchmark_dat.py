"""Cost of one DAT training step against a plain step, in the same process (not a test).

Times forward + loss + backward + SGD step of YOLOv3-MobileNetV2 (mmdet config, random init) on a
synthetic batch, plain and with each DAT ``train_on`` mode, and prints milliseconds, ratios to the plain
step and the FLOP count of each. The discretizer is the shipped tiny one by default, or a preset
(random weights) with ``--preset``.

Example: python tools/benchmark_dat.py --size 160 --batch 4 --threads 2
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time
import warnings

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmdat  # noqa: E402,F401
from mmdat.models.data_preprocessors import DATIterationPlan  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODES = ('adv', 'clean+adv', 'separate', 'fused')


def build_model(discretizer: dict, train_on: str):
    import mmdet
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(mmdet.__path__[0], '.mim', 'configs', 'yolo',
                                   'yolov3_mobilenetv2_8xb24-320-300e_coco.py')).model
    cfg.backbone.init_cfg = None
    cfg.bbox_head.num_classes = 8
    dat = None if train_on == 'plain' else dict(discretizer=discretizer, train_on=train_on)
    cfg.data_preprocessor = dict(type='mmdat.DATDataPreprocessor', dat=dat, mean=[123.675, 116.28, 103.53],
                                 std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32)
    torch.manual_seed(0)
    model = MODELS.build(cfg.to_dict())
    model.train()
    return model


def make_batch(size: int, batch: int) -> dict:
    from mmdet.testing import demo_mm_inputs
    return demo_mm_inputs(batch_size=batch, image_shapes=(3, size, size), num_classes=8,
                          num_items=[4] * batch)


def train_step(model, wrapper, batch) -> None:
    if model.data_preprocessor.dat_enabled:
        model.data_preprocessor.dat_plan = DATIterationPlan(collect_stats=False)
    model.train_step(copy.deepcopy(batch), wrapper)


def measure(fn, repeats: int) -> float:
    fn()  # warm-up (builds the discretizer)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def count_flops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=int, default=160)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--preset', help='use this VQGAN preset with random weights instead of the tiny one')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    if args.preset:
        discretizer = dict(type='mmdat.VQGANDiscretizer', preset=args.preset, checkpoint=None)
    else:
        discretizer = dict(type='mmdat.VQGANDiscretizer', preset='embedded-tiny-f4-4096',
                           checkpoint=osp.join(ROOT, 'checkpoints', 'vqgan_tiny_f4_embedded.pth'))
    batch = make_batch(args.size, args.batch)
    rows = []
    for mode in ('plain', *MODES):
        model = build_model(discretizer, mode)
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-6))
        if mode != 'plain':
            model.data_preprocessor.bind_dat(model, wrapper)
        step = lambda: train_step(model, wrapper, batch)  # noqa: E731
        rows.append((mode, measure(step, args.repeats), count_flops(step)))
        if mode == 'plain':
            images = torch.rand(args.batch, 3, args.size, args.size)
            q = mmdat.registry.MODELS.build(discretizer)
            rows.append(('one discretizer pass (V)', measure(lambda: q.discretize(images), args.repeats),
                         count_flops(lambda: q.discretize(images))))
    plain_ms, plain_gflop = rows[0][1], rows[0][2]
    official = dict((name, ms) for name, ms, _ in rows)['clean+adv']
    print(f'YOLOv3-MobileNetV2, {args.size}px, batch {args.batch}, {args.threads} threads, '
          f'median of {args.repeats}; discretizer: {args.preset or "embedded-tiny-f4-4096"}')
    print(f'{"step":<26}{"ms":>9}{"x plain":>9}{"x official":>12}{"GFLOP":>10}')
    for name, ms, gflop in rows:
        print(f'{name:<26}{ms:>9.0f}{ms / plain_ms:>9.2f}{ms / official:>12.2f}{gflop:>10.1f}')
    print(f'(plain step: {plain_gflop:.1f} GFLOP; official = clean+adv)')


if __name__ == '__main__':
    main()

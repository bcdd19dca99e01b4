"""Cost of a DAT training step against a plain step and the official recipe, in one process.

For each model (built from the project's embedded DAT configs, random weights) it times one
training step (preprocessing, DAT, forward, backward, SGD update) on a synthetic batch:

- ``plain``: the stock step;
- ``official``: the official recipe in easyrobust's order, written out here as the yardstick:
  clean forward on x (its graph kept); Q; attack forward and backward on x̂; Q; adversarial
  forward; one backward of the joint loss;
- mmdat's ``train_on`` modes (``adv``, ``clean+adv``, ``separate``, ``fused``), and ``clean+adv``
  and ``fused`` once more with the discretizer's taming decoder (the exact path before the fast
  decoder), to show what the fast decoder buys the whole step;
- ``Q``: one discretizer pass on the batch as the steps discretize it (after the preprocessor's
  padding).

The rows run interleaved over ``--repeats`` rounds after a warm-up each; min / median / max are
printed and the median counts. ``floor_ratio`` is a step's median over its floor: its discretizer
passes at the measured ``Q`` time plus its model FLOPs at the plain step's FLOP rate.
``floor_ratio_min`` is the same from the fastest rounds (the fastest step over the floor priced at the
fastest ``Q`` and ``plain``): on a shared machine, where other work only adds time, the steadier of
the two.

Example::

    python tools/benchmark_dat.py --quick
    python tools/benchmark_dat.py --model yolov3 effdet resnet --size 160 --batch 4 \\
        --out work_dirs/benchmarks/dat_step.json
    python tools/benchmark_dat.py --model yolov3 --preset openimages-f8-16384
    python tools/benchmark_dat.py --model faster-rcnn --size 1333x800 --batch 1 \\
        --preset openimages-f8-16384 --rows plain adv clean+adv separate fused --single-pass

``faster-rcnn`` and ``retinanet`` are mmdet's R50-FPN 1x models of the full-size DAT configs.
``--single-pass`` is for full-size inputs, where one DAT step takes minutes: every row is warmed up
once on a batch at a quarter of the size, then runs once, timed and measured for peak memory in
that same call; FLOPs and the floor ratios are left out.
"""
import argparse
import copy
import os.path as osp
import sys
import warnings
from typing import Callable, Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
import mmdat  # noqa: F401
from mmdat.apis.experiment import dat_discretizer
from mmdat.models.data_preprocessors import DATIterationPlan
from mmdat.models.full_loss import full_loss
from mmdat.utils.profiling import (PeakMemory, count_gflop, image_size, interleaved_times, mib_text,
                                   size_label, spread, write_rows)

#: model name -> (DAT config of the embedded dataset, scope, task)
MODELS = {
    'yolov3': ('configs/dat/yolov3_mobilenetv2_dat_8xb8-160-20e_embedded.py', 'mmdet', 'det'),
    'effdet': ('configs/dat/efficientdet-lite0_dat_8xb8-192-30e_embedded.py', 'mmdet', 'det'),
    'resnet': ('configs/dat/resnet18_dat_8xb32-10e_embedded.py', 'mmpretrain', 'cls'),
    'faster-rcnn': ('configs/dat/faster-rcnn_r50_fpn_dat_1x_coco.py', 'mmdet', 'det'),
    'retinanet': ('configs/dat/retinanet_r50_fpn_dat_1x_coco.py', 'mmdet', 'det'),
}
MODEL_NAMES = {'yolov3': 'YOLOv3-MobileNetV2', 'effdet': 'EfficientDet-Lite0',
               'resnet': 'ResNet-18', 'faster-rcnn': 'Faster R-CNN R50-FPN',
               'retinanet': 'RetinaNet R50-FPN'}
#: row -> (train_on or None for plain / official, discretizer overrides)
ROWS = {
    'plain': (None, {}),
    'official': ('clean+adv', {}),
    'adv': ('adv', {}),
    'clean+adv': ('clean+adv', {}),
    'separate': ('separate', {}),
    'fused': ('fused', {}),
    'clean+adv, taming decoder': ('clean+adv', dict(decoder='taming')),
    'fused, taming decoder': ('fused', dict(decoder='taming')),
}
NUM_CLASSES = 8


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', nargs='+', choices=list(MODELS),
                        default=['yolov3', 'effdet', 'resnet'])
    parser.add_argument('--size', type=image_size, default=(160, 160), help='SIDE or WIDTHxHEIGHT')
    parser.add_argument('--rows', nargs='+', choices=list(ROWS),
                        help='the rows of --single-pass (default: all; plain always runs); the '
                        'interleaved rounds always run every row and Q')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3, help='timed interleaved rounds')
    parser.add_argument('--preset', help="a VQGAN preset with random weights instead of the config's "
                        'discretizer (e.g. openimages-f8-16384)')
    parser.add_argument('--out', metavar='FILE.json', help='write one JSON row per step')
    parser.add_argument('--single-pass', action='store_true',
                        help='one timed, memory-measured step per row after a warm-up at a quarter '
                        'of the size; no FLOPs (for full-size inputs)')
    parser.add_argument('--quick', action='store_true',
                        help='YOLOv3 at 96 px, batch 2, one round: about a minute')
    args = parser.parse_args()
    if args.quick:
        args.model, args.size, args.batch, args.repeats = ['yolov3'], (96, 96), 2, 1
    args.rows = args.rows or list(ROWS)
    if 'plain' not in args.rows:
        args.rows.insert(0, 'plain')  # the ratios' baseline
    return args


def discretizer_label(name: str, preset: Optional[str]) -> str:
    """The discretizer a model's rows ran with: ``--preset`` (random weights) or its DAT config's."""
    if preset:
        return f'{preset} (random weights)'
    return f"{dat_discretizer(Config.fromfile(osp.join(ROOT, MODELS[name][0])))} (the config's)"


def model_config(name: str, train_on: Optional[str], overrides: dict,
                 preset: Optional[str]) -> ConfigDict:
    """The model config of a DAT config, with DAT off (``train_on=None``) or in one mode."""
    path, _, _ = MODELS[name]
    cfg = Config.fromfile(osp.join(ROOT, path))
    model = cfg.model.to_dict()
    preprocessor = model.get('data_preprocessor') or cfg.data_preprocessor.to_dict()
    dat = preprocessor['dat']
    if preset:
        dat['discretizer'] = dict(type='mmdat.VQGANDiscretizer', preset=preset, checkpoint=None)
    dat['discretizer'].update(overrides)
    dat['train_on'] = train_on or 'clean+adv'
    if train_on is None:
        preprocessor['dat'] = None
    model['data_preprocessor'] = preprocessor
    _drop_pretrained(model)
    _set_num_classes(model)
    return ConfigDict(model)  # two-stage detectors read train_cfg.rpn as an attribute


def _set_num_classes(config: dict) -> None:
    """Every head of the model predicts ``NUM_CLASSES`` classes."""
    for key, value in config.items():
        if key == 'num_classes':
            config[key] = NUM_CLASSES
        elif isinstance(value, dict):
            _set_num_classes(value)


def _drop_pretrained(config: dict) -> None:
    for value in config.values():
        if isinstance(value, dict):
            value.pop('init_cfg', None)
            _drop_pretrained(value)


def make_batch(task: str, size: tuple[int, int], batch: int) -> dict:
    """A synthetic training batch of ``size`` (H, W): uint8 images and 4 boxes per image, or one
    label each."""
    if task == 'det':
        from mmdet.testing import demo_mm_inputs
        return demo_mm_inputs(batch_size=batch, image_shapes=(3, *size),
                              num_classes=NUM_CLASSES, num_items=[4] * batch)
    from mmpretrain.structures import DataSample
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=generator)
              for _ in range(batch)]
    samples = [DataSample().set_gt_label(index % NUM_CLASSES) for index in range(batch)]
    return dict(inputs=images, data_samples=samples)


def official_step(model: torch.nn.Module, wrapper: OptimWrapper, batch: dict) -> None:
    """The official recipe in easyrobust's order, on the model's full loss."""
    preprocessor = model.data_preprocessor
    data = preprocessor(copy.deepcopy(batch), training=False)  # the stock preprocessing only
    inputs, samples = data['inputs'], data['data_samples']
    valid = preprocessor.valid_mask(inputs, samples)
    clean_loss = full_loss(model, inputs, samples)
    x_hat = preprocessor.discretizer.discretize(preprocessor.to_unit_rgb(inputs))

    def loss_at(images: torch.Tensor) -> torch.Tensor:
        return full_loss(model, preprocessor.from_unit_rgb(images, inputs, valid), samples)

    generator = torch.Generator().manual_seed(0)
    result = preprocessor.attack.run(x_hat, loss_at, valid, generator)
    x_adv = preprocessor.discretizer.discretize((x_hat + result.delta).clamp(0, 1))
    adv_loss = full_loss(model, preprocessor.from_unit_rgb(x_adv, inputs, valid), samples)
    wrapper.update_params(clean_loss + adv_loss)


def build_step(name: str, row: str, args: argparse.Namespace) -> tuple:
    """``(step, discretizer or None)`` of one row, on a freshly built model: ``step(batch)`` runs
    one training step."""
    from mmengine.registry import MODELS as REGISTRY
    train_on, overrides = ROWS[row]
    init_default_scope(MODELS[name][1])
    torch.manual_seed(0)
    model = REGISTRY.build(model_config(name, train_on, overrides, args.preset))
    model.train()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-6))
    preprocessor = model.data_preprocessor
    if train_on is None:
        return lambda batch: model.train_step(copy.deepcopy(batch), wrapper), None
    preprocessor.bind_dat(model, wrapper)
    if row == 'official':
        return lambda batch: official_step(model, wrapper, batch), preprocessor.discretizer

    def step(batch: dict) -> None:
        preprocessor.dat_plan = DATIterationPlan(collect_stats=False)
        model.train_step(copy.deepcopy(batch), wrapper)

    return step, preprocessor.discretizer


def counted(step: Callable, discretizer) -> tuple[float, int, Optional[torch.Size]]:
    """GFLOP of one call of ``step``, how many discretizer passes it made, and the shape of the
    (padded) batch its last pass discretized."""
    passes, shape = 0, None
    if discretizer is not None:
        original = discretizer.discretize_with_codes

        def with_codes(images):
            nonlocal passes, shape
            passes, shape = passes + 1, images.shape
            return original(images)

        def plain(images):
            return with_codes(images)[0]

        discretizer.discretize_with_codes, discretizer.discretize = with_codes, plain
    try:
        gflop = count_gflop(step)
    finally:
        if discretizer is not None:  # the class's methods again
            del discretizer.discretize_with_codes, discretizer.discretize
    return gflop, passes, shape


def benchmark_model(name: str, args: argparse.Namespace) -> list[dict]:
    if args.single_pass:
        return single_pass_rows(name, args)
    task = MODELS[name][2]
    batch = make_batch(task, args.size, args.batch)
    steps, discretizers = {}, {}
    for row in ROWS:
        run, discretizers[row] = build_step(name, row, args)
        steps[row] = lambda run=run: run(batch)
    counts = {row: counted(steps[row], discretizers[row]) for row in ROWS}
    q_pass = discretizers['clean+adv']
    # Q runs on the shape the step discretizes, after the preprocessor's padding
    images = torch.rand(counts['clean+adv'][2])
    steps['Q'] = lambda: q_pass.discretize(images)
    counts['Q'] = counted(steps['Q'], None)
    times = interleaved_times(steps, args.repeats)
    memory = PeakMemory(torch.device('cpu'))
    q_gflop, plain_gflop = counts['Q'][0], counts['plain'][0]
    q_min, q_ms = (value * 1e3 for value in spread(times['Q'])[:2])
    plain_min, plain_ms = (value * 1e3 for value in spread(times['plain'])[:2])
    official_ms = spread(times['official'])[1] * 1e3
    discretizer = discretizer_label(name, args.preset)
    rows = []
    for row in steps:
        fastest, median, slowest = (value * 1e3 for value in spread(times[row]))
        gflop, passes, _ = counts[row]
        if row == 'Q':
            passes, model_gflop = 1, 0.0
        else:
            model_gflop = gflop - passes * q_gflop
        floor_ms = passes * q_ms + model_gflop * plain_ms / plain_gflop
        # the same floor from the fastest rounds: interference on a shared machine only adds time
        floor_min_ms = passes * q_min + model_gflop * plain_min / plain_gflop
        rows.append(dict(
            model=MODEL_NAMES[name], discretizer=discretizer, mode=row, size=size_label(args.size),
            batch=args.batch, threads=torch.get_num_threads(), ms_per_iter=median,
            ms_min=fastest, ms_max=slowest, peak_mem_mb=memory.measure(steps[row]),
            ratio_to_plain=median / plain_ms, ratio_to_official=median / official_ms,
            floor_ratio=median / floor_ms, floor_ratio_min=fastest / floor_min_ms, gflop=gflop,
            discretizer_passes=passes))
    return rows


def single_pass_rows(name: str, args: argparse.Namespace) -> list[dict]:
    """Per row: a warm-up step on a batch at a quarter of the size, then one step, timed and
    measured for peak memory in the same call; the ratios are against the plain step."""
    task = MODELS[name][2]
    batch = make_batch(task, args.size, args.batch)
    small = make_batch(task, tuple(max(32, side // 4) for side in args.size), args.batch)
    memory = PeakMemory(torch.device('cpu'))
    discretizer = discretizer_label(name, args.preset)
    rows = []
    print(f'\n{MODEL_NAMES[name]}, {size_label(args.size)}, batch {args.batch}, {args.threads} '
          f'threads, one pass per row; discretizer: {discretizer}')
    for row in args.rows:
        run, _ = build_step(name, row, args)
        run(small)
        _, seconds, peak = memory.measure_timed(run, batch)
        rows.append(dict(model=MODEL_NAMES[name], discretizer=discretizer, mode=row,
                         size=size_label(args.size), batch=args.batch,
                         threads=torch.get_num_threads(), ms_per_iter=seconds * 1e3,
                         peak_mem_mb=peak, single_pass=True))
        print(f'  {row:<28}{seconds:>9.1f} s{mib_text(peak):>10} MiB', flush=True)
    plain = rows[0]
    for row in rows:
        row['ratio_to_plain'] = row['ms_per_iter'] / plain['ms_per_iter']
        if row['peak_mem_mb'] is not None and plain['peak_mem_mb']:
            row['peak_mem_ratio_to_plain'] = row['peak_mem_mb'] / plain['peak_mem_mb']
    return rows


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    all_rows = []
    for name in args.model:
        rows = benchmark_model(name, args)
        all_rows += rows
        if args.single_pass:
            print('  ' + ', '.join(f'{row["mode"]} {row["ratio_to_plain"]:.1f}x time, '
                                   f'{row.get("peak_mem_ratio_to_plain", float("nan")):.2f}x memory'
                                   for row in rows[1:]))
            continue
        print(f'\n{MODEL_NAMES[name]}, {size_label(args.size)} px, batch {args.batch}, '
              f'{args.threads} threads, {args.repeats} interleaved rounds; '
              f'discretizer: {rows[0]["discretizer"]}')
        print(f'  {"step":<28}{"ms min/med/max":>22}{"x plain":>9}{"x official":>12}'
              f'{"x floor":>9}{"(min)":>7}{"Q passes":>10}{"GFLOP":>9}{"peak MiB":>10}')
        for row in rows:
            times = f'{row["ms_min"]:.0f}/{row["ms_per_iter"]:.0f}/{row["ms_max"]:.0f}'
            peak = mib_text(row['peak_mem_mb'])
            print(f'  {row["mode"]:<28}{times:>22}{row["ratio_to_plain"]:>9.2f}'
                  f'{row["ratio_to_official"]:>12.2f}{row["floor_ratio"]:>9.2f}'
                  f'{row["floor_ratio_min"]:>7.2f}'
                  f'{row["discretizer_passes"]:>10}{row["gflop"]:>9.1f}{peak:>10}')
    if args.out:
        write_rows(args.out, all_rows)


if __name__ == '__main__':
    main()

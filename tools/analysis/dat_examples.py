"""What one DAT step does to a config's images: x, Q(x), x_adv and the amplified differences, with
the step's statistics, for the first images of the val split.

The DAT config's own preprocessor runs one training step on them (the model in train mode, as in
training; nothing is updated or saved), so the picture shows the configured discretizer, attack and
``train_on`` (``fused`` has no Q(x) panels).

Example (the figure of docs/user_guide.md)::

    python tools/analysis/dat_examples.py configs/dat/efficientdet-lite0_dat_8xb8-192-30e_embedded.py \
        --checkpoint work_dirs/lite0/epoch_30.pth --out docs/dat_examples.png
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
from mmdat.apis import ConfigError, build_model, load_tool_config, readable_errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='a DAT config (mmdet or mmpretrain)')
    parser.add_argument('--checkpoint', help='trained weights (default: the config\'s initialisation)')
    parser.add_argument('--out', required=True, help='the PNG to write')
    parser.add_argument('--num-images', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0, help="seeds the attack's random start")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with readable_errors():
        import cv2
        from mmengine.optim import OptimWrapper
        from mmengine.runner import Runner

        from mmdat.models.data_preprocessors import DATIterationPlan
        from mmdat.visualization import make_dat_grid
        cfg = load_tool_config(args.config, args.cfg_options)
        model = build_model(cfg, args.checkpoint)
        preprocessor = model.data_preprocessor
        if not getattr(preprocessor, 'dat_enabled', False):
            raise ConfigError(f'{args.config} has no DAT preprocessor: use a DAT config (configs/dat/) '
                              "or set type='mmdat.DATDataPreprocessor' with a dat block")
        loader_cfg = cfg.val_dataloader.copy()
        loader_cfg.update(batch_size=args.num_images, num_workers=0, persistent_workers=False)
        loader_cfg.dataset.indices = args.num_images
        batch = next(iter(Runner.build_dataloader(loader_cfg)))
        model.train()
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))  # fused/separate backward
        preprocessor.bind_dat(model, wrapper)
        preprocessor.dat_plan = DATIterationPlan(seed=args.seed, num_visuals=args.num_images)
        preprocessor(batch, training=True)
        report = preprocessor.dat_report
        grid = make_dat_grid(report.visuals)
        cv2.imwrite(args.out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        for key, value in report.stats.items():
            print(f'dat/{key}: {value:.4g}')
        print(f'written: {args.out}')


if __name__ == '__main__':
    main()

"""Corruption robustness of a detector (COCO-C: P, mPC, rPC) or a classifier (ImageNet-C style:
accuracy per cell, mean corruption accuracy, mCE) from its own mmdet / mmpretrain config.

Example:
    python tools/test_robustness.py CONFIG CHECKPOINT --out work_dirs/robustness \
        --corruptions benchmark --severities 1 2 3 4 5 --workers 2

Corrupted images are cached (``--cache-dir``, default ``<out>/../corruption_cache``), or read from a
set on disk (``--corrupted-dir``: tools/make_coco_c.py's layout or ImageNet-C's as downloaded). Every
cell is saved as soon as it is done, and a second run with the same arguments resumes where the first
stopped. With ``--launcher pytorch`` each rank evaluates a share of the images (torchrun, or
tools/dist_test_robustness.sh). Writes ``<out>/robustness.json``, ``robustness.md`` and two PNG plots.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdat.apis import (ConfigError, add_evaluation_arguments, check_evaluation_arguments, load_tool_config,
                        parse_tool_args, readable_errors)


def parse_args() -> argparse.Namespace:
    from mmdat.evaluation.robustness.corruptions import CORRUPTION_SETS, SEVERITIES
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='test config file (mmdet or mmpretrain)')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_evaluation_arguments(parser, 'robustness.json, robustness.md, plots and cells/')
    parser.add_argument(
        '--corruptions', nargs='+', default=['benchmark'],
        help=f'sets ({", ".join(CORRUPTION_SETS)}) or corruption names; default: benchmark')
    parser.add_argument('--severities', nargs='+', type=int, default=list(SEVERITIES),
                        help='severities in 1-5 (clean is always evaluated); default: 1 2 3 4 5')
    parser.add_argument('--cache-dir', help='corruption cache (default: <out>/../corruption_cache)')
    parser.add_argument('--no-cache', action='store_true', help='corrupt without caching')
    parser.add_argument('--corrupted-dir',
                        help='read the corrupted images from a set on disk: the layout '
                        'tools/make_coco_c.py writes (COCO-C) or ImageNet-C\'s '
                        '(<corruption>/<severity>/<wnid>/<file>); checked whole before inference')
    parser.add_argument('--baseline',
                        help='classifiers: mCE baseline, a robustness.json of another model or a '
                             'JSON {"name", "errors": {corruption: mean error}}; default: AlexNet')
    return parse_tool_args(parser)


def main() -> None:
    args = parse_args()
    with readable_errors():
        from mmengine.dist import is_main_process

        from mmdat.evaluation.robustness import (CorruptionBenchmark, check_severities, corruption_errors,
                                                 resolve_corruptions, write_reports)
        try:
            corruptions = resolve_corruptions(args.corruptions)
            severities = check_severities(args.severities)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        check_evaluation_arguments(args)
        if args.corrupted_dir and not osp.isdir(args.corrupted_dir):
            raise ConfigError(f'--corrupted-dir {args.corrupted_dir} is not a directory')
        baseline = None
        if args.baseline:
            if not osp.isfile(args.baseline):
                raise ConfigError(f'--baseline file not found: {args.baseline}')
            with open(args.baseline) as file:
                baseline = json.load(file)
        cfg = load_tool_config(args.config, args.cfg_options, args.launcher)
        cache_dir = None if args.no_cache or args.corrupted_dir else (
            args.cache_dir or osp.join(osp.dirname(osp.abspath(args.out)), 'corruption_cache'))
        benchmark = CorruptionBenchmark(
            cfg, args.checkpoint, args.out, corruptions, severities, num_images=args.num_images,
            workers=args.workers, seed=args.seed, cache_dir=cache_dir,
            corrupted_dir=args.corrupted_dir)
        result = benchmark.run()
        if 'top1' in result['summary']['metrics']:
            result['corruption_errors'] = corruption_errors(result['clean'], {
                (c['corruption'], c['severity']): c['metrics'] for c in result['cells']},
                baseline=baseline)
        if is_main_process():
            print(write_reports(result, args.out))


if __name__ == '__main__':
    main()

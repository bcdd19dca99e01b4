"""Time a corruption-robustness run, in one process: the first run's split between corrupting and
the rest (loading, inference, COCO evaluation), a re-run with the same --out (every cell cached), and
a run into a new --out that finds the corrupted images in the cache. Prints, asserts nothing.

Example:
    python tools/benchmark_robustness.py CONFIG CHECKPOINT --corruptions benchmark --severities 3
"""
import argparse
import os.path as osp
import shutil
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdat.apis import load_tool_config, readable_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--corruptions', nargs='+', default=['benchmark'])
    parser.add_argument('--severities', nargs='+', type=int, default=[3])
    parser.add_argument('--num-images', type=int)
    parser.add_argument('--workers', type=int, default=0,
                        help='0 keeps corruption in this process, so its time can be split off')
    args = parser.parse_args()
    with readable_errors():
        from mmdat.datasets.transforms import corrupt_image as transform_module
        from mmdat.evaluation.robustness import CorruptionBenchmark, check_severities, resolve_corruptions
        corruptions = resolve_corruptions(args.corruptions)
        severities = check_severities(args.severities)
        cfg = load_tool_config(args.config)
        scratch = tempfile.mkdtemp(prefix='mmdat_robustness_benchmark_')
        spent = dict(seconds=0.0, images=0)
        original = transform_module.corrupt_image

        def timed_corrupt(*positional, **keywords):
            start = time.perf_counter()
            try:
                return original(*positional, **keywords)
            finally:
                spent['seconds'] += time.perf_counter() - start
                spent['images'] += 1

        transform_module.corrupt_image = timed_corrupt  # count the corruption time of this process

        def run(out: str) -> float:
            benchmark = CorruptionBenchmark(
                cfg, args.checkpoint, osp.join(scratch, out), corruptions, severities,
                num_images=args.num_images, workers=args.workers,
                cache_dir=osp.join(scratch, 'cache'))
            start = time.perf_counter()
            benchmark.run()
            return time.perf_counter() - start

        try:
            first = run('first')
            corrupting, corrupted_images = spent['seconds'], spent['images']
            rerun = run('first')
            spent.update(seconds=0.0, images=0)
            warm = run('second')
        finally:
            transform_module.corrupt_image = original
            shutil.rmtree(scratch, ignore_errors=True)
        cells = len(corruptions) * len(severities)
        print(f'{cells} cells + clean, {corrupted_images} corrupted images')
        print(f'first run           {first:8.1f} s  (corruption {corrupting:.1f} s = '
              f'{100 * corrupting / first:.0f}%, the rest {first - corrupting:.1f} s)')
        print(f're-run, same --out  {rerun:8.1f} s  ({first / rerun:.0f}x faster: every cell cached)')
        print(f'new --out, warm     {warm:8.1f} s  ({first / warm:.1f}x faster: corruptions cached, '
              f'{spent["images"]} corrupted again)')


if __name__ == '__main__':
    main()

"""Write a corrupted copy of an image set in the standard COCO-C / ImageNet-C layout,
``<out>/<corruption>/<severity>/<image path relative to the input>``, with a process pool.

The pixels are those of ``tools/test_robustness.py`` (same per-image seeds), which can read the
result back with ``--corrupted-dir OUT``. JPEG inputs are written as JPEG (quality 95, as the file
names in the annotations must stay), so reading them back adds that compression; PNG stays lossless.
Existing files are kept, so an interrupted run continues.

Example:
    python tools/make_coco_c.py data/coco/val2017 data/coco-c --corruptions benchmark --workers 8
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdat.apis import ConfigError, readable_errors

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def list_images(root: str, limit: int = None) -> list:
    """Image files under ``root``, recursively, sorted (paths relative to ``root``)."""
    found = []
    for folder, _, files in os.walk(root):
        found += [osp.relpath(osp.join(folder, name), root) for name in files
                  if name.lower().endswith(IMAGE_SUFFIXES)]
    found.sort()
    return found[:limit] if limit else found


def corrupt_one(task: tuple) -> int:
    """Corrupt one image for every (corruption, severity); returns the number of files written."""
    import cv2

    from mmdat.datasets.transforms import image_key, write_image
    from mmdat.evaluation.robustness import corrupt_image, corruption_seed
    root, relative, out_dir, corruptions, severities, seed = task
    key = image_key(osp.join(root, relative), root)  # the name and seed test_robustness.py uses
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if relative.lower().endswith(('.jpg', '.jpeg')) else []
    image = None
    written = 0
    for corruption in corruptions:
        for severity in severities:
            target = osp.join(out_dir, corruption, str(severity), relative)
            if osp.isfile(target):
                continue
            if image is None:
                image = cv2.imread(osp.join(root, relative), cv2.IMREAD_COLOR)
                if image is None:
                    raise OSError(f'cannot read the image {osp.join(root, relative)}')
            corrupted = corrupt_image(image[..., ::-1].copy(), corruption, severity,
                                      corruption_seed(key, corruption, severity, seed))
            write_image(target, np.ascontiguousarray(corrupted[..., ::-1]), params)
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('images', help='directory of clean images (searched recursively)')
    parser.add_argument('out', help='output directory')
    parser.add_argument('--corruptions', nargs='+', default=['benchmark'])
    parser.add_argument('--severities', nargs='+', type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument('--num-images', type=int, help='the first N images (sorted) only')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    with readable_errors():
        from mmengine.utils import track_parallel_progress, track_progress

        from mmdat.evaluation.robustness import check_severities, resolve_corruptions
        try:
            corruptions = resolve_corruptions(args.corruptions)
            severities = check_severities(args.severities)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        if not osp.isdir(args.images):
            raise ConfigError(f'image directory not found: {args.images}')
        images = list_images(args.images, args.num_images)
        if not images:
            raise ConfigError(f'no images ({", ".join(IMAGE_SUFFIXES)}) under {args.images}')
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as err:
            raise ConfigError(f'cannot create {args.out}: {err.strerror}') from None
        tasks = [(args.images, relative, args.out, corruptions, severities, args.seed)
                 for relative in images]
        if args.workers > 1:
            written = track_parallel_progress(corrupt_one, tasks, args.workers)
        else:
            written = track_progress(corrupt_one, tasks)
        print(f'\n{sum(written)} files written ({len(images)} images x {len(corruptions)} '
              f'corruptions x {len(severities)} severities) under {args.out}')


if __name__ == '__main__':
    main()

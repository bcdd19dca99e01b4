"""Generate the embedded dataset (see docs/embedded_dataset.md).

Examples:
    python tools/make_embedded_dataset.py --out-dir data/embedded_det
    python tools/make_embedded_dataset.py --out-dir data/embedded_cls --task cls
    python tools/make_embedded_dataset.py --out-dir /tmp/det \
        --preview docs/embedded_dataset_preview.png
"""
import argparse
import collections
import json
import os
import time

from PIL import Image, ImageDraw

from mmdat.datasets import generate_embedded_dataset

# COCO size classes by area in pixels.
SMALL_AREA, LARGE_AREA = 32**2, 96**2
PREVIEW_COLUMNS = 6


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Generate the mmdat embedded dataset.')
    parser.add_argument('--out-dir', required=True, help='directory to create (must be empty)')
    parser.add_argument('--task', choices=('det', 'cls'), default='det',
                        help='det: COCO layout; cls: mmpretrain CustomDataset folder layout')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, help='training images (det 400, cls 800)')
    parser.add_argument('--num-val', type=int, help='validation images (det 100, cls 200)')
    parser.add_argument('--size', type=int, help='square image side in pixels (det 160, cls 64)')
    parser.add_argument('--preview', help='also write a PNG grid of training images (det: boxes)')
    parser.add_argument('--preview-images', type=int, default=12)
    return parser.parse_args()


def size_class(area: int) -> str:
    return 'small' if area < SMALL_AREA else 'medium' if area < LARGE_AREA else 'large'


def summarize_detection(out_dir: str, split: str) -> str:
    with open(os.path.join(out_dir, 'annotations', f'instances_{split}.json')) as file:
        coco = json.load(file)
    names = {category['id']: category['name'] for category in coco['categories']}
    per_category = collections.Counter(names[ann['category_id']] for ann in coco['annotations'])
    per_size = collections.Counter(size_class(ann['area']) for ann in coco['annotations'])
    return (f'{split}: {len(coco["images"])} images, {len(coco["annotations"])} objects; '
            f'per category {dict(sorted(per_category.items()))}; '
            f'per size {dict(per_size.most_common())}')


def summarize_classification(out_dir: str, split: str) -> str:
    with open(os.path.join(out_dir, 'meta', f'{split}.txt')) as file:
        names = [line.split('/', 1)[0] for line in file]
    per_class = dict(sorted(collections.Counter(names).items()))
    return f'{split}: {len(names)} images; per class {per_class}'


def detection_tiles(out_dir: str, count: int) -> list[Image.Image]:
    """The first ``count`` training images with their boxes and class names drawn, at 2x."""
    with open(os.path.join(out_dir, 'annotations', 'instances_train.json')) as file:
        coco = json.load(file)
    names = {category['id']: category['name'] for category in coco['categories']}
    tiles = []
    for image_info in coco['images'][:count]:
        image = Image.open(os.path.join(out_dir, 'train', image_info['file_name'])).convert('RGB')
        image = image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(image)
        for ann in coco['annotations']:
            if ann['image_id'] == image_info['id']:
                x, y, width, height = (2 * value for value in ann['bbox'])
                draw.rectangle([x, y, x + width - 1, y + height - 1], outline=(255, 255, 0))
                draw.text((x + 2, y + 1), names[ann['category_id']], fill=(255, 255, 0))
        tiles.append(image)
    return tiles


def classification_tiles(out_dir: str, count: int) -> list[Image.Image]:
    """The first ``count`` training images with their class name drawn, at 2x."""
    with open(os.path.join(out_dir, 'meta', 'train.txt')) as file:
        paths = [line.rsplit(' ', 1)[0] for line in file][:count]
    tiles = []
    for path in paths:
        image = Image.open(os.path.join(out_dir, 'train', path)).convert('RGB')
        image = image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST)
        ImageDraw.Draw(image).text((2, 1), path.split('/', 1)[0], fill=(255, 255, 0))
        tiles.append(image)
    return tiles


def save_preview(tiles: list[Image.Image], path: str) -> None:
    """Lay ``tiles`` out in a grid and save it as a 128-colour PNG (small enough for docs)."""
    columns = min(PREVIEW_COLUMNS, len(tiles))
    rows = -(-len(tiles) // columns)
    width, height = tiles[0].size
    grid = Image.new('RGB', (columns * width, rows * height))
    for index, tile in enumerate(tiles):
        grid.paste(tile, ((index % columns) * width, (index // columns) * height))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    grid.quantize(colors=128, dither=Image.Dither.NONE).save(path, optimize=True)


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    settings = generate_embedded_dataset(
        args.out_dir, task=args.task, seed=args.seed, num_train=args.num_train,
        num_val=args.num_val, image_size=args.size, show_progress=True)
    elapsed = time.perf_counter() - start
    print(f'\nwrote {args.out_dir} in {elapsed:.1f} s with {settings}')
    summarize = summarize_detection if args.task == 'det' else summarize_classification
    for split in ('train', 'val'):
        print(summarize(args.out_dir, split))
    if args.preview:
        make_tiles = detection_tiles if args.task == 'det' else classification_tiles
        save_preview(make_tiles(args.out_dir, args.preview_images), args.preview)
        print(f'preview: {args.preview} ({os.path.getsize(args.preview) // 1024} KB)')


if __name__ == '__main__':
    main()

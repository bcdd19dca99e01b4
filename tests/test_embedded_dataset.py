"""Tests of the embedded dataset: generator, COCO / folder layouts and registered wrappers."""
import json
import multiprocessing
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from pycocotools.coco import COCO

from mmdat.datasets import CATEGORIES, generate_embedded_dataset, prepare_embedded_dataset, resolve_settings
from mmdat.datasets.embedded_scenes import (MIN_VISIBLE_FRACTION, CategoryDeck, compose_classification_image,
                                            compose_detection_image, texture_samples)
from mmdat.datasets.embedded_sources import load_source_library
from mmdat.registry import DATASETS

REPO_ROOT = Path(__file__).resolve().parents[1]
SMALL_DET = dict(task='det', seed=3, num_train=12, num_val=4, image_size=160)
SMALL_CLS = dict(task='cls', seed=3, num_train=16, num_val=8, image_size=64)


def scenes(count: int, seed: int = 0, image_size: int = 160) -> list:
    library = load_source_library()
    rng = np.random.default_rng(seed)
    deck = CategoryDeck(len(CATEGORIES), rng)
    return [compose_detection_image(library, rng, image_size, deck) for _ in range(count)]


def file_bytes(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes()
            for path in sorted(root.rglob('*')) if path.is_file()}


@pytest.fixture(scope='module')
def det_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('embedded') / 'det'
    generate_embedded_dataset(str(root), **SMALL_DET)
    return root


@pytest.fixture(scope='module')
def cls_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('embedded') / 'cls'
    generate_embedded_dataset(str(root), **SMALL_CLS)
    return root


def test_generation_is_byte_identical_for_a_seed(det_root, cls_root, tmp_path):
    for root, settings in ((det_root, SMALL_DET), (cls_root, SMALL_CLS)):
        again = tmp_path / settings['task']
        generate_embedded_dataset(str(again), **settings)
        assert file_bytes(again) == file_bytes(root)
    other_seed = tmp_path / 'other_seed'
    generate_embedded_dataset(str(other_seed), **{**SMALL_DET, 'seed': 4})
    annotations = 'annotations/instances_train.json'
    assert (other_seed / annotations).read_bytes() != (det_root / annotations).read_bytes()


def test_sources_load_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError('network access attempted')

    monkeypatch.setattr(socket, 'socket', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)
    library = load_source_library.__wrapped__()
    photo_categories = set(library.photo_objects)
    shape_categories = set(library.silhouettes) | {'triangle', 'square'}
    assert photo_categories | shape_categories == set(CATEGORIES)
    assert len(library.photo_objects['coin']) >= 20  # every coin segmented separately
    for templates in library.photo_objects.values():
        for template in templates:
            assert template.rgb.shape[:2] == template.mask.shape and template.mask.mean() > 0.1


def test_coco_files_are_valid(det_root):
    for split, num_images in (('train', 12), ('val', 4)):
        coco = COCO(str(det_root / 'annotations' / f'instances_{split}.json'))
        assert sorted(coco.getCatIds()) == list(range(1, len(CATEGORIES) + 1))
        assert [coco.cats[i]['name'] for i in sorted(coco.cats)] == list(CATEGORIES)
        assert len(coco.getImgIds()) == num_images
        for image in coco.dataset['images']:
            assert (det_root / split / image['file_name']).is_file()
            assert image['width'] == image['height'] == 160
            assert coco.getAnnIds(imgIds=image['id'])  # every image has objects
        for ann in coco.dataset['annotations']:
            x, y, width, height = ann['bbox']
            assert width >= 1 and height >= 1 and x >= 0 and y >= 0
            assert x + width <= 160 and y + height <= 160
            assert 0 < ann['area'] <= width * height and ann['iscrowd'] == 0


def test_boxes_are_tight_around_the_visible_pixels():
    occluded = 0
    for scene in scenes(30):
        assert scene.objects
        for index, obj in enumerate(scene.objects):
            rows, cols = np.nonzero(scene.instance_map == index)
            x, y, width, height = obj.bbox
            assert (x, y) == (cols.min(), rows.min())
            assert (x + width - 1, y + height - 1) == (cols.max(), rows.max())
            assert obj.area == rows.size >= MIN_VISIBLE_FRACTION * obj.full_area
            occluded += obj.area < obj.full_area
    assert occluded > 0


def test_all_coco_size_classes_present_at_160px():
    areas = [obj.area for scene in scenes(60) for obj in scene.objects]
    assert min(areas) < 32**2
    assert any(32**2 <= area < 96**2 for area in areas)
    assert max(areas) >= 96**2


def test_categories_are_balanced(det_root):
    with open(det_root / 'annotations' / 'instances_train.json') as file:
        annotations = json.load(file)['annotations']
    counts = Counter(ann['category_id'] for ann in annotations)
    assert set(counts) == set(range(1, len(CATEGORIES) + 1))
    assert max(counts.values()) - min(counts.values()) <= 2


def test_classification_image_centres_one_object():
    library = load_source_library()
    rng = np.random.default_rng(0)
    for category_index in range(len(CATEGORIES)):
        image = compose_classification_image(library, rng, 64, category_index)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8


def test_cls_layout_loads_with_mmpretrain_custom_dataset(cls_root):
    from mmpretrain.datasets import CustomDataset
    assert (cls_root / 'classes.txt').read_text().split() == list(CATEGORIES)
    for split, num_images in (('train', 16), ('val', 8)):
        dataset = CustomDataset(
            data_root=str(cls_root), ann_file=f'meta/{split}.txt', data_prefix=split,
            metainfo=dict(classes=str(cls_root / 'classes.txt')))
        assert tuple(dataset.CLASSES) == CATEGORIES and len(dataset) == num_images
        for info in dataset:
            folder = Path(info['img_path']).parent.name
            assert os.path.isfile(info['img_path'])
            assert info['gt_label'] == CATEGORIES.index(folder)
    labels = [int(line.split()[1]) for line in (cls_root / 'meta' / 'train.txt').open()]
    assert sorted(Counter(labels).values()) == [2] * len(CATEGORIES)


def test_coco_wrapper_generates_then_reuses_the_dataset(tmp_path):
    init_default_scope('mmdet')
    root = tmp_path / 'embedded_det'
    config = dict(
        type='mmdat.EmbeddedCocoDataset', data_root=str(root),
        ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                  dict(type='PackDetInputs')],
        seed=1, num_train=8, num_val=4)
    dataset = DATASETS.build(config)
    assert len(dataset) == 8 and dataset.metainfo['classes'] == CATEGORIES
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 160, 160)
    with open(root / 'annotations' / 'instances_train.json') as file:
        coco = json.load(file)
    first_boxes = [ann['bbox'] for ann in coco['annotations'] if ann['image_id'] == 1]
    x, y, width, height = first_boxes[0]
    assert [x, y, x + width, y + height] in sample['data_samples'].gt_instances.bboxes.tensor.tolist()

    settings_mtime = (root / 'embedded_dataset.json').stat().st_mtime_ns
    assert len(DATASETS.build(config)) == 8
    assert (root / 'embedded_dataset.json').stat().st_mtime_ns == settings_mtime
    with pytest.raises(ValueError, match='num_train'):
        DATASETS.build({**config, 'num_train': 9})


def test_cls_wrapper_generates_through_the_registry(tmp_path):
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(dict(
        type='mmdat.EmbeddedClsDataset', data_root=str(tmp_path / 'embedded_cls'),
        ann_file='meta/val.txt', data_prefix='val',
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')],
        num_train=8, num_val=8, image_size=48))
    assert len(dataset) == 8 and dataset.metainfo['classes'] == CATEGORIES
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 48, 48)
    assert CATEGORIES[int(sample['data_samples'].gt_label)] in dataset.get_data_info(0)['img_path']


def _prepare_and_count_images(root: str) -> int:
    prepare_embedded_dataset(root, 'det', seed=2, num_train=6, num_val=2, show_progress=False)
    with open(os.path.join(root, 'annotations', 'instances_train.json')) as file:
        return len(json.load(file)['images'])


def test_concurrent_preparation_yields_one_complete_dataset(tmp_path):
    root = str(tmp_path / 'shared' / 'embedded_det')
    with multiprocessing.get_context('fork').Pool(3) as pool:
        counts = pool.map(_prepare_and_count_images, [root] * 3)
    assert counts == [6, 6, 6]
    assert sorted(os.listdir(tmp_path / 'shared')) == ['embedded_det', 'embedded_det.lock']
    reference = tmp_path / 'reference'
    generate_embedded_dataset(str(reference), task='det', seed=2, num_train=6, num_val=2)
    assert file_bytes(Path(root)) == file_bytes(reference)


def test_bad_settings_and_directories_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="task: 'seg'"):
        resolve_settings('seg')
    with pytest.raises(ValueError, match='num_train: 0'):
        resolve_settings('det', num_train=0)
    with pytest.raises(ValueError, match='image_size: 16'):
        resolve_settings('cls', image_size=16)
    occupied = tmp_path / 'occupied'
    occupied.mkdir()
    (occupied / 'note.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='not an empty directory'):
        generate_embedded_dataset(str(occupied))
    with pytest.raises(FileExistsError, match='no complete embedded dataset'):
        prepare_embedded_dataset(str(occupied), 'det')
    assert (occupied / 'note.txt').read_text() == 'keep me'


def test_command_line_tool_writes_dataset_and_preview(tmp_path):
    out_dir, preview = tmp_path / 'cli', tmp_path / 'preview.png'
    result = subprocess.run(
        [sys.executable, 'tools/make_embedded_dataset.py', '--out-dir', str(out_dir),
         '--task', 'cls', '--num-train', '8', '--num-val', '8', '--size', '48',
         '--preview', str(preview), '--preview-images', '4'],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert 'train: 8 images' in result.stdout and 'val: 8 images' in result.stdout
    assert json.loads((out_dir / 'embedded_dataset.json').read_text())['image_size'] == 48
    assert preview.stat().st_size > 0


def test_texture_samples_draw_each_named_texture_as_the_generator_does():
    library = load_source_library()
    samples = texture_samples(library, per_texture=3, image_size=48, seed=0)
    assert list(samples) == list(library.background_texture_names + library.fill_texture_names)
    assert len(samples) == len(library.background_textures) + len(library.fill_textures) == 8
    assert all(images.shape == (3, 48, 48, 3) and images.dtype == np.uint8
               for images in samples.values())
    again = texture_samples(library, per_texture=3, image_size=48, seed=0)
    assert all(np.array_equal(samples[name], again[name]) for name in samples)
    # a background is one grey texture times a tint: its channels are proportional
    brick = samples['brick'][0].reshape(-1, 3).astype(float)
    assert np.corrcoef(brick[:, 0], brick[:, 1])[0, 1] > 0.99
    assert not np.array_equal(samples['brick'], samples['grass'])

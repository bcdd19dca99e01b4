"""Writing the embedded dataset: COCO (``task='det'``) or an mmpretrain folder layout (``'cls'``),
its settings file, and generate-if-missing that is safe when several processes start at once.

The dataset wrappers (``EmbeddedCocoDataset``, ``EmbeddedClsDataset``) call
:func:`prepare_embedded_dataset` before loading annotations. The first process takes a lock file
next to ``root``, generates into a temporary sibling directory and renames it to ``root`` in one
step; the others wait on the lock and then find the complete dataset.
"""
import json
import os
import shutil
import tempfile

import numpy as np
from filelock import FileLock
from mmengine.utils import ProgressBar
from PIL import Image

from .embedded_scenes import CATEGORIES, CategoryDeck, compose_classification_image, compose_detection_image
from .embedded_sources import load_source_library

TASKS = ('det', 'cls')
SPLITS = ('train', 'val')
DEFAULT_SETTINGS = {
    'det': dict(num_train=400, num_val=100, image_size=160),
    'cls': dict(num_train=800, num_val=200, image_size=64),
}
SETTINGS_FILE = 'embedded_dataset.json'
# Bump when a change to the generator changes its output for the same settings.
FORMAT_VERSION = 1

MIN_IMAGE_SIZE = 32


def _split_rng(seed: int, task: str, split: str) -> np.random.Generator:
    return np.random.default_rng([seed, TASKS.index(task), SPLITS.index(split)])


def _save_png(image: np.ndarray, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(image).save(path, format='PNG', compress_level=1)


def _write_json(data: dict, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as file:
        json.dump(data, file, indent=1)
        file.write('\n')


def _write_detection_split(out_dir: str, split: str, seed: int, num_images: int,
                           image_size: int, progress: ProgressBar | None) -> None:
    """Write ``out_dir/<split>/*.png`` and ``annotations/instances_<split>.json``."""
    library = load_source_library()
    rng = _split_rng(seed, 'det', split)
    deck = CategoryDeck(len(CATEGORIES), rng)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        scene = compose_detection_image(library, rng, image_size, deck)
        file_name = f'{image_id:06d}.png'
        _save_png(scene.image, os.path.join(out_dir, split, file_name))
        images.append(dict(id=image_id, file_name=file_name, width=image_size,
                           height=image_size))
        for annotation in scene.objects:
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id,
                category_id=annotation.category_index + 1, bbox=list(annotation.bbox),
                area=annotation.area, iscrowd=0))
        if progress is not None:
            progress.update()
    coco = dict(
        info=dict(description=f'mmdat embedded detection dataset ({split})', seed=seed,
                  format_version=FORMAT_VERSION),
        images=images, annotations=annotations,
        categories=[dict(id=index + 1, name=name, supercategory='object')
                    for index, name in enumerate(CATEGORIES)])
    _write_json(coco, os.path.join(out_dir, 'annotations', f'instances_{split}.json'))


def _write_classification_split(out_dir: str, split: str, seed: int, num_images: int,
                                image_size: int, progress: ProgressBar | None) -> None:
    """Write ``out_dir/<split>/<class>/*.png`` and ``meta/<split>.txt``."""
    library = load_source_library()
    rng = _split_rng(seed, 'cls', split)
    labels = rng.permutation(np.arange(num_images) % len(CATEGORIES)).tolist()
    lines = []
    for index, label in enumerate(labels, start=1):
        image = compose_classification_image(library, rng, image_size, label)
        relative_path = f'{CATEGORIES[label]}/{index:06d}.png'
        _save_png(image, os.path.join(out_dir, split, relative_path))
        lines.append(f'{relative_path} {label}\n')
        if progress is not None:
            progress.update()
    os.makedirs(os.path.join(out_dir, 'meta'), exist_ok=True)
    with open(os.path.join(out_dir, 'meta', f'{split}.txt'), 'w', encoding='utf-8') as file:
        file.writelines(lines)


def resolve_settings(task: str, seed: int = 0, num_train: int | None = None,
                     num_val: int | None = None, image_size: int | None = None) -> dict:
    """Fill in the task's defaults and validate the generator settings.

    Args:
        task (str): ``'det'`` or ``'cls'``.
        seed (int): Non-negative random seed. Defaults to 0.
        num_train (int, optional): Training images; ``None`` takes the task default
            (det 400, cls 800).
        num_val (int, optional): Validation images; ``None`` takes the task default
            (det 100, cls 200).
        image_size (int, optional): Square image side in pixels, at least 32; ``None`` takes
            the task default (det 160, cls 64).

    Returns:
        dict: ``task, seed, num_train, num_val, image_size, format_version``.
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {TASKS}, but got task: {task!r}')
    defaults = DEFAULT_SETTINGS[task]
    settings = dict(
        task=task, seed=seed,
        num_train=defaults['num_train'] if num_train is None else num_train,
        num_val=defaults['num_val'] if num_val is None else num_val,
        image_size=defaults['image_size'] if image_size is None else image_size,
        format_version=FORMAT_VERSION)
    for key, minimum in (('seed', 0), ('num_train', 1), ('num_val', 1),
                         ('image_size', MIN_IMAGE_SIZE)):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f'{key} must be an integer >= {minimum}, but got {key}: {value!r}')
    return settings


def read_settings(root: str) -> dict | None:
    """Return the settings a complete dataset in ``root`` was generated with, else ``None``."""
    path = os.path.join(root, SETTINGS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding='utf-8') as file:
        return json.load(file)


def generate_embedded_dataset(out_dir: str, task: str = 'det', seed: int = 0,
                              num_train: int | None = None, num_val: int | None = None,
                              image_size: int | None = None,
                              show_progress: bool = False) -> dict:
    """Generate the embedded dataset into ``out_dir`` (which must be empty or absent).

    ``task='det'`` writes ``annotations/instances_{train,val}.json`` (COCO) and images under
    ``train/`` and ``val/``; ``task='cls'`` writes ``{train,val}/<class>/*.png``,
    ``meta/{train,val}.txt`` and ``classes.txt``. ``embedded_dataset.json`` (the settings) is
    written last and marks the dataset complete. Output is byte-identical for equal settings.

    Args:
        out_dir (str): Directory to write into.
        task (str): ``'det'`` or ``'cls'``. Defaults to ``'det'``.
        seed (int): Random seed. Defaults to 0.
        num_train (int, optional): Training images (see :func:`resolve_settings`).
        num_val (int, optional): Validation images.
        image_size (int, optional): Square image side in pixels.
        show_progress (bool): Print a progress bar. Defaults to False.

    Returns:
        dict: The settings used.
    """
    settings = resolve_settings(task, seed, num_train, num_val, image_size)
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        raise FileExistsError(
            f'out_dir {out_dir!r} exists and is not an empty directory; remove it or choose '
            'another one')
    os.makedirs(out_dir, exist_ok=True)
    total = settings['num_train'] + settings['num_val']
    progress = ProgressBar(total) if show_progress else None
    write_split = _write_detection_split if task == 'det' else _write_classification_split
    for split in SPLITS:
        write_split(out_dir, split, seed, settings[f'num_{split}'], settings['image_size'],
                    progress)
    if task == 'cls':
        with open(os.path.join(out_dir, 'classes.txt'), 'w', encoding='utf-8') as file:
            file.writelines(f'{name}\n' for name in CATEGORIES)
    _write_json(settings, os.path.join(out_dir, SETTINGS_FILE))
    return settings


def prepare_embedded_dataset(root: str, task: str, seed: int = 0, num_train: int | None = None,
                             num_val: int | None = None, image_size: int | None = None,
                             show_progress: bool = True) -> dict:
    """Make sure ``root`` holds the embedded dataset with these settings, generating it if absent.

    Args:
        root (str): Dataset directory, e.g. ``'data/embedded_det/'``.
        task (str): ``'det'`` or ``'cls'``.
        seed (int): Random seed. Defaults to 0.
        num_train (int, optional): Training images; ``None`` takes the task default.
        num_val (int, optional): Validation images; ``None`` takes the task default.
        image_size (int, optional): Square image side in pixels; ``None`` takes the default.
        show_progress (bool): Print a progress bar while generating. Defaults to True.

    Returns:
        dict: The settings of the dataset in ``root``.

    Raises:
        FileExistsError: ``root`` exists but holds no complete embedded dataset.
        ValueError: ``root`` holds an embedded dataset generated with other settings.
    """
    settings = resolve_settings(task, seed, num_train, num_val, image_size)
    root = os.path.abspath(root)
    if not os.path.exists(root):
        parent = os.path.dirname(root)
        os.makedirs(parent, exist_ok=True)
        with FileLock(f'{root}.lock'):
            if not os.path.exists(root):
                staging = tempfile.mkdtemp(prefix=f'{os.path.basename(root)}.tmp-', dir=parent)
                try:
                    generate_embedded_dataset(staging, show_progress=show_progress,
                                              **_generator_arguments(settings))
                    os.chmod(staging, 0o755)  # mkdtemp made it private
                    os.rename(staging, root)
                except BaseException:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise
    existing = read_settings(root)
    if existing is None:
        raise FileExistsError(
            f'{root} exists but holds no complete embedded dataset (no {SETTINGS_FILE}); delete '
            'it to have it generated again')
    if existing != settings:
        raise ValueError(
            f'{root} holds an embedded dataset generated with {existing}, but {settings} was '
            'asked for; delete the directory or point data_root elsewhere')
    return settings


def _generator_arguments(settings: dict) -> dict:
    return {key: settings[key] for key in ('task', 'seed', 'num_train', 'num_val', 'image_size')}

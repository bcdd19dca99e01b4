"""``mmdat.CorruptImage``: a COCO-C / ImageNet-C corruption of the loaded image, seeded per image,
cached on disk, or read from a pre-generated corruption directory."""
import hashlib
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmdat.evaluation.robustness.corrupted_dir import CorruptedDirectory
from mmdat.evaluation.robustness.corruptions import (CORRUPTION_SETS, SEVERITIES, corrupt_image,
                                                     corruption_seed, library_version, resolve_corruptions)
from mmdat.registry import TRANSFORMS


def image_key(img_path: str, image_root: Optional[str]) -> str:
    """The image's name relative to ``image_root`` (its basename without one), with '/' separators:
    the path below ``<corruption>/<severity>/`` in the COCO-C layout, and the seed's image id."""
    relative = osp.relpath(img_path, image_root) if image_root else osp.basename(img_path)
    return relative.replace(os.sep, '/')


def write_image(path: str, image_bgr: np.ndarray, params: Sequence[int] = ()) -> None:
    """Write an image atomically (a temporary file, then a rename): parallel writers and an
    interrupted run never leave a partial file at ``path``."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    temporary = f'{path}.{os.getpid()}.tmp{osp.splitext(path)[1]}'
    if not cv2.imwrite(temporary, image_bgr, list(params)):
        raise OSError(f'could not write {temporary}')
    os.replace(temporary, path)


class CorruptionCache:
    """Corrupted images on disk as lossless PNG, keyed by the source pixels, corruption, severity,
    seed and corruption library version; written atomically, so parallel workers can share it.

    Args:
        root (str): the cache directory.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.version = library_version()

    def path(self, image: np.ndarray, corruption: str, severity: int, seed: int) -> str:
        digest = hashlib.sha256(np.ascontiguousarray(image).tobytes())
        digest.update(f'{image.shape}|{corruption}|{severity}|{seed}|{self.version}'.encode())
        name = digest.hexdigest()
        return osp.join(self.root, self.version, corruption, str(severity), name[:2],
                        f'{name}.png')

    def get(self, path: str) -> Optional[np.ndarray]:
        """The cached BGR image at ``path``, or None."""
        if not osp.isfile(path):
            return None
        return cv2.imread(path, cv2.IMREAD_COLOR)

    def put(self, path: str, image_bgr: np.ndarray) -> None:
        write_image(path, image_bgr)


@TRANSFORMS.register_module()
class CorruptImage(BaseTransform):
    """Corrupt ``results['img']`` (mmcv's BGR uint8) as COCO-C / ImageNet-C do.

    The corruption sees the image in RGB, the order ``imagecorruptions`` assumes (mmdet's
    ``Corrupt`` passes BGR). The seed depends on the image's name, the corruption, the severity and
    ``seed`` only, so a result does not depend on worker count or order. Put it right after the image
    is loaded; ``tools/test_robustness.py`` does that for any test pipeline.

    Args:
        corruption (str): an ``imagecorruptions`` name, e.g. ``'gaussian_noise'``.
        severity (int): 1-5.
        seed (int): base seed of the run. Defaults to 0.
        cache_dir (str, optional): cache of corrupted images; None corrupts every time.
        corrupted_dir (str, optional): a corrupted image set, ``<corrupted_dir>/<corruption>/
            <severity>/...`` in ``tools/make_coco_c.py``'s layout or ImageNet-C's
            (:class:`~mmdat.evaluation.robustness.corrupted_dir.CorruptedDirectory`); images are
            read from it instead of being corrupted.
        image_root (str, optional): the directory image names are relative to (the dataset's
            image prefix). None uses the file's basename.
        stored_size (bool): take a stored image whose size differs from the clean one's as it
            is (ImageNet-C's 224×224 crops), its shape entries following it. Defaults to False:
            a different size is an error.
    """

    def __init__(self, corruption: str, severity: int, seed: int = 0,
                 cache_dir: Optional[str] = None, corrupted_dir: Optional[str] = None,
                 image_root: Optional[str] = None, stored_size: bool = False) -> None:
        resolve_corruptions([corruption])
        if corruption in CORRUPTION_SETS:
            raise ValueError(f'CorruptImage takes one corruption, but got the set {corruption!r}')
        if severity not in SEVERITIES:
            raise ValueError(f'severity must be in 1-5, but got severity: {severity}')
        self.corruption = corruption
        self.severity = severity
        self.seed = seed
        self.cache = CorruptionCache(cache_dir) if cache_dir else None
        self.stored = CorruptedDirectory(corrupted_dir) if corrupted_dir else None
        self.image_root = image_root
        self.stored_size = stored_size

    def transform(self, results: dict) -> dict:
        image = results['img']
        key = image_key(results.get('img_path', ''), self.image_root)
        if self.stored is not None:
            results['img'] = self._read_pregenerated(key, image.shape)
            if results['img'].shape != image.shape:
                results['img_shape'] = results['ori_shape'] = results['img'].shape[:2]
            return results
        seed = corruption_seed(key, self.corruption, self.severity, self.seed)
        cache_path = self.cache.path(image, self.corruption, self.severity, seed) \
            if self.cache is not None else None
        corrupted = self.cache.get(cache_path) if cache_path is not None else None
        if corrupted is None:
            rgb = np.ascontiguousarray(image[..., ::-1])
            corrupted = np.ascontiguousarray(
                corrupt_image(rgb, self.corruption, self.severity, seed)[..., ::-1])
            if cache_path is not None:
                self.cache.put(cache_path, corrupted)
        results['img'] = corrupted
        return results

    def _read_pregenerated(self, key: str, shape: tuple) -> np.ndarray:
        path = self.stored.find(self.corruption, self.severity, key)
        image = cv2.imread(path, cv2.IMREAD_COLOR) if path else None
        if image is None:
            raise FileNotFoundError(
                f'{key} is missing from {self.stored.folder(self.corruption, self.severity)} (or '
                'unreadable; layout <corruption>/<severity>/<image path>, as tools/make_coco_c.py '
                "writes it, or ImageNet-C's <corruption>/<severity>/<wnid>/<file>)")
        if image.shape != shape and not self.stored_size:
            raise ValueError(f'{path} has shape {image.shape}, but the clean image has {shape}')
        return image

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(corruption={self.corruption!r}, '
                f'severity={self.severity}, seed={self.seed})')

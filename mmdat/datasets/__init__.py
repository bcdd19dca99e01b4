"""Datasets: the embedded dataset (a generated real-pixel detection / classification set that
needs no download) and a plain image-folder dataset. The mmdet and mmpretrain wrappers of the
embedded dataset are registered only when that package is installed, so either works without
the other."""
from importlib.util import find_spec

from .embedded_generate import (generate_embedded_dataset, prepare_embedded_dataset, read_settings,
                                resolve_settings)
from .embedded_scenes import CATEGORIES
from .image_folder import ImageFolderDataset
from .transforms import CorruptImage

__all__ = ['CATEGORIES', 'CorruptImage', 'ImageFolderDataset', 'generate_embedded_dataset',
           'prepare_embedded_dataset', 'read_settings', 'resolve_settings']

if find_spec('mmdet') is not None:
    from .embedded_coco import EmbeddedCocoDataset  # noqa: F401
    __all__.append('EmbeddedCocoDataset')
if find_spec('mmpretrain') is not None:
    from .embedded_cls import EmbeddedClsDataset  # noqa: F401
    __all__.append('EmbeddedClsDataset')

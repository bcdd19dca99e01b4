"""A dataset of the image files in a folder, for training and evaluating autoencoders."""
import os
import os.path as osp
from typing import Sequence

from mmengine.dataset import BaseDataset

from mmdat.registry import DATASETS

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff')


@DATASETS.register_module()
class ImageFolderDataset(BaseDataset):
    """Every image file under ``data_root/data_prefix['img_path']`` (recursively, sorted by path);
    each sample is ``dict(img_path=...)`` for the pipeline. No labels, no annotation file.

    Example:
        >>> dataset = ImageFolderDataset(
        ...     data_root='data/embedded_det', data_prefix=dict(img_path='train'),
        ...     pipeline=[dict(type='mmpretrain.LoadImageFromFile'),
        ...               dict(type='mmpretrain.RandomCrop', crop_size=64),
        ...               dict(type='mmpretrain.PackInputs')])

    Args:
        extensions (Sequence[str]): file name endings that count as images (case-insensitive).
            Defaults to :data:`IMAGE_EXTENSIONS`.
        **kwargs: arguments of :class:`mmengine.dataset.BaseDataset` (``data_root``,
            ``data_prefix=dict(img_path=...)``, ``pipeline``, ``indices``, ``test_mode``, ...).
    """

    def __init__(self, extensions: Sequence[str] = IMAGE_EXTENSIONS, **kwargs) -> None:
        if isinstance(extensions, str) or not extensions:
            raise ValueError('extensions must be a non-empty sequence of file endings, e.g. '
                             f"('.png', '.jpg'), but got {extensions!r}")
        self.extensions = tuple(extension.lower() for extension in extensions)
        kwargs.setdefault('data_prefix', dict(img_path=''))
        super().__init__(**kwargs)

    def load_data_list(self) -> list[dict]:
        """List the image files; raises if the folder is missing or holds none."""
        folder = self.data_prefix.get('img_path', '')
        if not osp.isdir(folder):
            raise FileNotFoundError(f'image folder not found: {folder!r} (data_root='
                                    f"{self.data_root!r}, data_prefix={self.data_prefix!r})")
        paths = sorted(
            osp.join(directory, name) for directory, _, names in os.walk(folder, followlinks=True)
            for name in names if name.lower().endswith(self.extensions))
        if not paths:
            raise ValueError(f'no image files ({", ".join(self.extensions)}) under {folder!r}')
        return [dict(img_path=path) for path in paths]

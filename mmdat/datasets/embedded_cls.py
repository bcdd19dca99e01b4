"""``EmbeddedClsDataset``: mmpretrain's ``CustomDataset`` over the embedded classification set."""
from mmpretrain.datasets import CustomDataset

from mmdat.registry import DATASETS
from .embedded_generate import prepare_embedded_dataset
from .embedded_scenes import CATEGORIES


@DATASETS.register_module()
class EmbeddedClsDataset(CustomDataset):
    """Folder-layout embedded classification dataset, generated into ``data_root`` on first use.

    All other arguments are those of mmpretrain's ``CustomDataset`` (``ann_file``,
    ``data_prefix``, ``pipeline``, ...). Every split is generated at once, so the train and val
    datasets of a config must use the same generator settings.

    Args:
        data_root (str): Dataset directory, e.g. ``'data/embedded_cls/'``.
        seed (int): Generator seed. Defaults to 0.
        num_train (int, optional): Training images. Defaults to None (800).
        num_val (int, optional): Validation images. Defaults to None (200).
        image_size (int, optional): Square image side in pixels. Defaults to None (64).
    """

    METAINFO = {'classes': CATEGORIES}

    def __init__(self, *args, data_root: str, seed: int = 0, num_train: int | None = None,
                 num_val: int | None = None, image_size: int | None = None, **kwargs) -> None:
        if not data_root:
            raise ValueError(f'data_root must name a directory, but got data_root: {data_root!r}')
        prepare_embedded_dataset(data_root, 'cls', seed=seed, num_train=num_train,
                                 num_val=num_val, image_size=image_size)
        super().__init__(*args, data_root=data_root, **kwargs)

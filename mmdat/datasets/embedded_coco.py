"""``EmbeddedCocoDataset``: mmdet's ``CocoDataset`` over the embedded detection set."""
from mmdet.datasets import CocoDataset

from mmdat.registry import DATASETS
from .embedded_generate import prepare_embedded_dataset
from .embedded_scenes import CATEGORIES


@DATASETS.register_module()
class EmbeddedCocoDataset(CocoDataset):
    """COCO-format embedded detection dataset, generated into ``data_root`` on first use.

    All other arguments are those of mmdet's ``CocoDataset`` (``ann_file``, ``data_prefix``,
    ``pipeline``, ...). Every split is generated at once, so the train and val datasets of a
    config must use the same generator settings.

    Args:
        data_root (str): Dataset directory, e.g. ``'data/embedded_det/'``.
        seed (int): Generator seed. Defaults to 0.
        num_train (int, optional): Training images. Defaults to None (400).
        num_val (int, optional): Validation images. Defaults to None (100).
        image_size (int, optional): Square image side in pixels. Defaults to None (160).
    """

    METAINFO = {
        'classes': CATEGORIES,
        'palette': [(220, 20, 60), (0, 0, 230), (255, 128, 0), (106, 0, 228), (250, 170, 30),
                    (0, 160, 80), (0, 200, 220), (200, 0, 160)],
    }

    def __init__(self, *args, data_root: str, seed: int = 0, num_train: int | None = None,
                 num_val: int | None = None, image_size: int | None = None, **kwargs) -> None:
        if not data_root:
            raise ValueError(f'data_root must name a directory, but got data_root: {data_root!r}')
        prepare_embedded_dataset(data_root, 'det', seed=seed, num_train=num_train,
                                 num_val=num_val, image_size=image_size)
        super().__init__(*args, data_root=data_root, **kwargs)

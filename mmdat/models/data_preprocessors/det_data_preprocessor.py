from typing import Optional

from mmdet.models.data_preprocessors import DetDataPreprocessor

from mmdat.registry import MODELS
from .dat_mixin import DATPreprocessorMixin


@MODELS.register_module()
class DATDataPreprocessor(DATPreprocessorMixin, DetDataPreprocessor):
    """mmdet's ``DetDataPreprocessor`` with the DAT step on training batches.

    Every stock argument (mean, std, bgr_to_rgb, pad_size_divisor, batch_augments, ...) works as in
    mmdet; ``dat`` is described in :class:`DATPreprocessorMixin`. Needs ``mmdat.DATHook``.
    """

    def __init__(self, *args, dat: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.init_dat(dat)

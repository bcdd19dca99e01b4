from typing import Optional

from mmpretrain.models.utils import ClsDataPreprocessor

from mmdat.registry import MODELS
from .dat_mixin import DATPreprocessorMixin


@MODELS.register_module()
class DATClsDataPreprocessor(DATPreprocessorMixin, ClsDataPreprocessor):
    """mmpretrain's ``ClsDataPreprocessor`` with the DAT step on training batches.

    Every stock argument (mean, std, to_rgb, pad_size_divisor, batch_augments, ...) works as in
    mmpretrain. Batch augments (Mixup, CutMix) run first, so the attack uses the mixed images and their
    soft labels, as the official code does. ``dat`` is described in :class:`DATPreprocessorMixin`.
    """

    def __init__(self, *args, dat: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.init_dat(dat)

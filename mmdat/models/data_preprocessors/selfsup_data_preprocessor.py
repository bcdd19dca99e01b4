from typing import Optional

from mmpretrain.models.utils import SelfSupDataPreprocessor

from mmdat.registry import MODELS
from .dat_mixin import DATPreprocessorMixin


@MODELS.register_module()
class DATSelfSupDataPreprocessor(DATPreprocessorMixin, SelfSupDataPreprocessor):
    """mmpretrain's ``SelfSupDataPreprocessor`` (a list of view batches) with the DAT step on
    training batches, for MoCo v3, SimCLR, SimSiam and the other two-view algorithms.

    The attack maximises the algorithm's own loss (``model.loss``: the contrastive or similarity
    loss) over all views at once, each view discretized; momentum encoders are updated once per
    iteration, by the training step. ``dat`` is described in :class:`DATPreprocessorMixin`;
    ``train_on`` defaults to ``'separate'`` (clean + adversarial loss, each on its own batch);
    ``'clean+adv'`` is refused, since its concatenated batch would make an image's clean and
    adversarial views negatives of each other.
    """

    def __init__(self, *args, dat: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if dat is not None and 'train_on' not in dat:
            dat = dict(dat, train_on='separate')
        self.init_dat(dat)
        self.check_multi_view()

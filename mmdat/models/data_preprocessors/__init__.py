"""DAT data preprocessors. The detection one needs mmdet, the classification one mmpretrain; each is
registered only when its library is installed (as ``mmdat.datasets`` does for its datasets)."""
from importlib.util import find_spec

from .dat_mixin import DATIterationPlan, DATPreprocessorMixin, DATReport, bn_mode_context, frozen_averages

__all__ = ['DATIterationPlan', 'DATPreprocessorMixin', 'DATReport', 'bn_mode_context', 'frozen_averages']

if find_spec('mmdet') is not None:
    from .det_data_preprocessor import DATDataPreprocessor  # noqa: F401
    __all__.append('DATDataPreprocessor')
if find_spec('mmpretrain') is not None:
    from .cls_data_preprocessor import DATClsDataPreprocessor  # noqa: F401
    from .selfsup_data_preprocessor import DATSelfSupDataPreprocessor  # noqa: F401
    __all__ += ['DATClsDataPreprocessor', 'DATSelfSupDataPreprocessor']

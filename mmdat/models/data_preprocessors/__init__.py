"""DAT data preprocessors. The detection one needs mmdet, the classification one mmpretrain; each is
registered only when its library is installed."""
from .dat_mixin import DATIterationPlan, DATPreprocessorMixin, DATReport, bn_mode_context

__all__ = ['DATIterationPlan', 'DATPreprocessorMixin', 'DATReport', 'bn_mode_context']

try:
    from .det_data_preprocessor import DATDataPreprocessor  # noqa: F401
    __all__.append('DATDataPreprocessor')
except ImportError as err:  # pragma: no cover - only without mmdet
    if err.name is None or not err.name.startswith('mmdet'):
        raise
try:
    from .cls_data_preprocessor import DATClsDataPreprocessor  # noqa: F401
    __all__.append('DATClsDataPreprocessor')
except ImportError as err:  # pragma: no cover - only without mmpretrain
    if err.name is None or not err.name.startswith('mmpretrain'):
        raise

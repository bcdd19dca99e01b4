# DAT twin of ../efficientdet/efficientdet-lite1_8xb16-384-300e_coco.py
# (paper Table 4, EfficientDet-Lite1-384),
# with the paper's DAT settings (../_base_/dat/dat_openimages_f8_16384.py).
_base_ = [
    '../efficientdet/efficientdet-lite1_8xb16-384-300e_coco.py',
    '../_base_/dat/dat_openimages_f8_16384.py'
]
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

model = dict(data_preprocessor=dict(type='mmdat.DATDataPreprocessor', dat={{_base_.dat}}))
custom_hooks = [  # the twin's EMA, then DAT
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=2e-4, update_buffers=True, priority=49),
    dict(type='mmdat.DATHook')
]

# DAT twin of ../vision_transformer/vit-base-p16_32xb128-mae_in1k.py (the paper's ImageNet ViT-B/16),
# with the paper's DAT settings (../_base_/dat/dat_openimages_f8_16384.py).
# mmpretrain configs keep the data preprocessor at the top level; the runner merges it into the model.
_base_ = [
    '../vision_transformer/vit-base-p16_32xb128-mae_in1k.py',
    '../_base_/dat/dat_openimages_f8_16384.py'
]
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

data_preprocessor = dict(type='mmdat.DATClsDataPreprocessor', dat={{_base_.dat}})
custom_hooks = [dict(type='EMAHook', momentum=1e-4), dict(type='mmdat.DATHook')]  # the twin's EMA kept

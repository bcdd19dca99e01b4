# DAT twin of ../resnet/resnet50_8xb32_in1k.py (the paper's ImageNet ResNet-50),
# with the paper's DAT settings (../_base_/dat/dat_openimages_f8_16384.py).
# mmpretrain configs keep the data preprocessor at the top level; the runner merges it into the model.
_base_ = [
    '../resnet/resnet50_8xb32_in1k.py',
    '../_base_/dat/dat_openimages_f8_16384.py'
]
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

data_preprocessor = dict(type='mmdat.DATClsDataPreprocessor', dat={{_base_.dat}})
custom_hooks = [dict(type='mmdat.DATHook')]

# DAT twin of ../simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py (the paper's Table 3)
# with the paper's DAT settings for self-supervised pre-training
# (../_base_/dat/dat_openimages_f8_16384_selfsup.py): the attack maximises the algorithm's own loss
# over both views at once, each view discretized.
_base_ = [
    '../simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py',
    '../_base_/dat/dat_openimages_f8_16384_selfsup.py'
]
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

data_preprocessor = dict(type='mmdat.DATSelfSupDataPreprocessor', dat={{_base_.dat}})
custom_hooks = [dict(type='mmdat.DATHook')]

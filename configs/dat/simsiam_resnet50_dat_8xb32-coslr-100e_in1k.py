# DAT twin of ../simsiam/simsiam_resnet50_8xb32-coslr-100e_in1k.py (the paper's Table 3) with the paper's
# DAT settings for self-supervised pre-training (../_base_/dat/dat_openimages_f8_16384_selfsup.py): the
# attack maximises SimSiam's similarity loss over both views at once, each view discretized.
_base_ = [
    '../simsiam/simsiam_resnet50_8xb32-coslr-100e_in1k.py',
    '../_base_/dat/dat_openimages_f8_16384_selfsup.py'
]
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

data_preprocessor = dict(type='mmdat.DATSelfSupDataPreprocessor', dat={{_base_.dat}})
custom_hooks = [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True, lr={{_base_.lr}}),  # the twin's
    dict(type='mmdat.DATHook')
]

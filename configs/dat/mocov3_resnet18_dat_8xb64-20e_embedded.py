# DAT twin of ../mocov3/mocov3_resnet18_8xb64-20e_embedded.py with the shipped discretizer
# (../_base_/dat/dat_embedded_small_f4_4096_selfsup.py): the attack maximises MoCo v3's contrastive loss
# over both views at once; the momentum encoder is updated once per iteration, by the training step.
_base_ = [
    '../mocov3/mocov3_resnet18_8xb64-20e_embedded.py',
    '../_base_/dat/dat_embedded_small_f4_4096_selfsup.py'
]

data_preprocessor = dict(type='mmdat.DATSelfSupDataPreprocessor', dat={{_base_.dat}})
custom_hooks = [dict(type='mmdat.DATHook')]

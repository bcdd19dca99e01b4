# `make demo`'s DAT run: the DAT twin of efficientdet-lite0_8xb8-160-8e_embedded.py with the shipped
# discretizer in `fused` mode (../_base_/dat/dat_embedded_small_f4_4096_fused.py).
_base_ = [
    './efficientdet-lite0_8xb8-160-8e_embedded.py',
    '../_base_/dat/dat_embedded_small_f4_4096_fused.py'
]

model = dict(data_preprocessor=dict(type='mmdat.DATDataPreprocessor', dat={{_base_.dat}}))
custom_hooks = [dict(type='mmdat.DATHook', vis_interval=100)]

# DAT twin of ../efficientdet/efficientdet-lite0_8xb8-192-30e_embedded.py, with the shipped discretizer
# (../_base_/dat/dat_embedded_small_f4_4096.py).
_base_ = [
    '../efficientdet/efficientdet-lite0_8xb8-192-30e_embedded.py',
    '../_base_/dat/dat_embedded_small_f4_4096.py'
]

model = dict(data_preprocessor=dict(type='mmdat.DATDataPreprocessor', dat={{_base_.dat}}))
custom_hooks = [dict(type='mmdat.DATHook', vis_interval=200)]

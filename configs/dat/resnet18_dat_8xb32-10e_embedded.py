# DAT twin of ../resnet/resnet18_8xb32-10e_embedded.py with the shipped discretizer
# (../_base_/dat/dat_embedded_small_f4_4096.py).
# mmpretrain configs keep the data preprocessor at the top level; the runner merges it into the model.
_base_ = [
    '../resnet/resnet18_8xb32-10e_embedded.py',
    '../_base_/dat/dat_embedded_small_f4_4096.py'
]

data_preprocessor = dict(type='mmdat.DATClsDataPreprocessor', dat={{_base_.dat}})
custom_hooks = [dict(type='mmdat.DATHook', vis_interval=100)]

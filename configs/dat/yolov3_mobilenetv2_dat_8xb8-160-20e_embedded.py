# DAT twin of ../yolov3/yolov3_mobilenetv2_8xb8-160-20e_embedded.py, with the shipped discretizer
# (../_base_/dat/dat_embedded_small_f4_4096.py).
_base_ = [
    '../yolov3/yolov3_mobilenetv2_8xb8-160-20e_embedded.py',
    '../_base_/dat/dat_embedded_small_f4_4096.py'
]

model = dict(data_preprocessor=dict(type='mmdat.DATDataPreprocessor', dat={{_base_.dat}}))
custom_hooks = [dict(type='mmdat.DATHook', vis_interval=200)]

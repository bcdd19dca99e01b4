# DAT twin of ../faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py at 1333x800, with the paper's DAT settings
# (../_base_/dat/dat_openimages_f8_16384.py). The attack back-propagates the full two-stage loss (RPN and
# RoI head). Cost and memory of one step at this size: docs/full_size.md.
_base_ = [
    '../faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    '../_base_/dat/dat_openimages_f8_16384.py'
]
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

model = dict(data_preprocessor=dict(type='mmdat.DATDataPreprocessor', dat={{_base_.dat}}))
custom_hooks = [dict(type='mmdat.DATHook')]

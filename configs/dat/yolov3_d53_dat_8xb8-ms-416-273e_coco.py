# DAT twin of ../yolov3/yolov3_d53_8xb8-ms-416-273e_coco.py (paper Table 4, YOLOv3-416, DarkNet-53),
# with the paper's DAT settings (../_base_/dat/dat_openimages_f8_16384.py).
_base_ = [
    '../yolov3/yolov3_d53_8xb8-ms-416-273e_coco.py',
    '../_base_/dat/dat_openimages_f8_16384.py'
]
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

model = dict(data_preprocessor=dict(type='mmdat.DATDataPreprocessor', dat={{_base_.dat}}))
custom_hooks = [dict(type='mmdat.DATHook')]

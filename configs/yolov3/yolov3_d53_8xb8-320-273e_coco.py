# YOLOv3-DarkNet53 at 320 px on COCO, mmdet's recipe as it is: the baseline of the paper's Table 4
# (YOLOv3-320, DarkNet-53). The DAT twin is ../dat/yolov3_d53_dat_8xb8-320-273e_coco.py.
_base_ = ['mmdet::yolo/yolov3_d53_8xb8-320-273e_coco.py']

# YOLOv3-MobileNetV2 at 416 px (multi-scale training) on COCO, mmdet's recipe as it is: the baseline of
# the paper's Table 4 (YOLOv3-416, MobileNetV2).
# The DAT twin is ../dat/yolov3_mobilenetv2_dat_8xb24-ms-416-300e_coco.py.
_base_ = ['mmdet::yolo/yolov3_mobilenetv2_8xb24-ms-416-300e_coco.py']

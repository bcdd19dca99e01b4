# Test-sized EfficientDet-Lite0 run (pretrained backbone): 16 train / 8 val images of 96 px resized to
# 64, iteration-based, logs every iteration. Run from a scratch working directory.
_base_ = ['../../configs/efficientdet/efficientdet-lite0_8xb8-192-30e_embedded.py']

data_root = 'data/embedded_det_tiny/'
settings = dict(seed=0, num_train=16, num_val=8, image_size=96)
image_size = 64
model = dict(image_size=image_size, test_cfg=dict(score_thr=0.0, max_per_img=20))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, **settings, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs'),
    ]))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, **settings, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
    ]))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=4, val_interval=100)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=4)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval=4))
log_processor = dict(window_size=1, by_epoch=False)
randomness = dict(seed=0)

# Test-sized YOLOv3 run: 16 train / 8 val images at 96 px, iteration-based, logs every iteration
# unsmoothed, so per-iteration losses can be compared. Run from a scratch working directory.
_base_ = ['../../configs/yolov3/yolov3_mobilenetv2_8xb8-160-20e_embedded.py']

data_root = 'data/embedded_det_tiny/'
settings = dict(seed=0, num_train=16, num_val=8, image_size=96)
pipeline_size = (96, 96)
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, **settings,
                 pipeline=[
                     dict(type='LoadImageFromFile'),
                     dict(type='LoadAnnotations', with_bbox=True),
                     dict(type='Resize', scale=pipeline_size, keep_ratio=True),
                     dict(type='RandomFlip', prob=0.5),
                     dict(type='PackDetInputs'),
                 ]))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, **settings,
                 pipeline=[
                     dict(type='LoadImageFromFile'),
                     dict(type='Resize', scale=pipeline_size, keep_ratio=True),
                     dict(type='LoadAnnotations', with_bbox=True),
                     dict(type='PackDetInputs',
                          meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
                 ]))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
model = dict(test_cfg=dict(score_thr=0.0, conf_thr=0.0, max_per_img=20))

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=6, val_interval=100)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=6)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval=3, max_keep_ckpts=3))
log_processor = dict(window_size=1, by_epoch=False)
randomness = dict(seed=0)

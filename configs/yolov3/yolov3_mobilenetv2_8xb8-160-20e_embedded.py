# mmdet's YOLOv3-MobileNetV2 (320 px COCO config) shrunk to the embedded dataset: 160 px, 8 classes,
# anchors halved, a 20-epoch CPU-sized schedule.
# The DAT twin is ../dat/yolov3_mobilenetv2_dat_8xb8-160-20e_embedded.py.
_base_ = ['mmdet::yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py']
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

image_size = (160, 160)
num_classes = 8
data_root = 'data/embedded_det/'
embedded_settings = dict(seed=0, num_train=400, num_val=100, image_size=image_size[0])

model = dict(
    backbone=dict(init_cfg=None),  # no download: random init
    bbox_head=dict(
        num_classes=num_classes,
        anchor_generator=dict(base_sizes=[[(110, 62), (64, 111), (132, 133)],
                                          [(17, 43), (51, 48), (30, 85)],
                                          [(5, 7), (12, 18), (36, 21)]])))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='mmdat.EmbeddedCocoDataset',
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
        **embedded_settings))
val_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmdat.EmbeddedCocoDataset',
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline,
        **embedded_settings))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=20, val_interval=5)
optim_wrapper = dict(optimizer=dict(lr=0.003))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, milestones=[16, 19], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=2))
auto_scale_lr = dict(base_batch_size=8)

# The embedded classification dataset (docs/embedded_dataset.md): one centred real-pixel object
# of 8 categories per 64 px image, mmpretrain CustomDataset folder layout. It is generated into
# `data_root` (relative to the working directory) the first time a dataset is built. Train and
# val must share the generator settings: override them in both dataloaders' datasets.
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

dataset_type = 'mmdat.EmbeddedClsDataset'
data_root = 'data/embedded_cls/'
image_size = 64
embedded_settings = dict(seed=0, num_train=800, num_val=200, image_size=image_size)

data_preprocessor = dict(
    num_classes=8,
    # RGB ImageNet statistics; images are loaded as BGR
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=train_pipeline,
        **embedded_settings))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=test_pipeline,
        **embedded_settings))
val_evaluator = dict(type='Accuracy', topk=(1, ))

test_dataloader = val_dataloader
test_evaluator = val_evaluator

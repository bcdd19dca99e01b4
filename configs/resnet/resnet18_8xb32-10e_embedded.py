# mmpretrain's ResNet-18 (ImageNet config) on the embedded classification dataset: 64 px, 8 classes,
# a 10-epoch CPU schedule. The DAT twin is ../dat/resnet18_dat_8xb32-10e_embedded.py.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

num_classes = 8
data_root = 'data/embedded_cls/'
embedded_settings = dict(seed=0, num_train=800, num_val=200, image_size=64)

model = dict(head=dict(num_classes=num_classes, topk=(1, )))
data_preprocessor = dict(num_classes=num_classes)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='mmdat.EmbeddedClsDataset', data_root=data_root, ann_file='meta/train.txt',
                 data_prefix='train', pipeline=train_pipeline, **embedded_settings))
val_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='mmdat.EmbeddedClsDataset', data_root=data_root, ann_file='meta/val.txt',
                 data_prefix='val', pipeline=test_pipeline, **embedded_settings))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', T_max=10, by_epoch=True)
train_cfg = dict(max_epochs=10, val_interval=2)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=2))
auto_scale_lr = dict(base_batch_size=32)

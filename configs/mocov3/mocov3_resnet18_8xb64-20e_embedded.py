# MoCo v3 pre-training of mmpretrain's ResNet-18 on the embedded classification images (64 px, 800 images,
# labels unused): a CPU schedule of minutes, so the effect of DAT on self-supervised pre-training can be
# seen end to end. Judge it with the linear probe, mocov3_resnet18_linear-probe_8xb32-10e_embedded.py.
# The DAT twin is ../dat/mocov3_resnet18_dat_8xb64-20e_embedded.py.
_base_ = ['mmpretrain::mocov3/mocov3_resnet50_8xb512-amp-coslr-100e_in1k.py']
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

data_root = 'data/embedded_cls/'
embedded_settings = dict(seed=0, num_train=800, num_val=200, image_size=64)

model = dict(
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=1024, out_channels=128),
    head=dict(predictor=dict(in_channels=128, hid_channels=1024, out_channels=128)))

# mmpretrain's two MoCo v3 views at 64 px
view_pipeline = [
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.), backend='pillow'),
    dict(type='RandomApply', prob=0.8,
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[view_pipeline, view_pipeline]),
    dict(type='PackInputs')
]
train_dataloader = dict(
    _delete_=True,
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='mmdat.EmbeddedClsDataset', data_root=data_root, ann_file='meta/train.txt',
                 data_prefix='train', pipeline=train_pipeline, **embedded_settings))

# mmpretrain's LARS, its learning rate scaled to the batch (9.6 x 64 / 4096), without AMP (CPU)
no_decay = dict(decay_mult=0, lars_exclude=True)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=0.15, weight_decay=1e-6, momentum=0.9),
    paramwise_cfg=dict(custom_keys={'bn': no_decay, 'bias': no_decay, 'downsample.1': no_decay}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=18, by_epoch=True, begin=2, end=20, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=20)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=64)

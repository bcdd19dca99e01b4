# Test-sized DAT run of mmpretrain's ResNet-18 with Mixup/CutMix: 32 train / 16 val images at 64 px.
_base_ = ['../../configs/dat/resnet18_dat_8xb32-10e_embedded.py']

data_root = 'data/embedded_cls_tiny/'
settings = dict(seed=0, num_train=32, num_val=16, image_size=64)
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, **settings))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, **settings))
test_dataloader = val_dataloader
model = dict(train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=4, val_interval=4)
param_scheduler = dict(_delete_=True, type='ConstantLR', factor=1.0, by_epoch=False)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval=4))
log_processor = dict(window_size=1, by_epoch=False)
custom_hooks = [dict(type='mmdat.DATHook', stats_interval=1, vis_interval=2)]
randomness = dict(seed=0)

# Test-sized linear probe: 32 train / 16 val images at 64 px, four iterations of 8.
_base_ = ['../../configs/mocov3/mocov3_resnet18_linear-probe_8xb32-10e_embedded.py']

data_root = 'data/embedded_cls_tiny/'
settings = dict(seed=0, num_train=32, num_val=16, image_size=64)
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, **settings))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, **settings))
test_dataloader = val_dataloader
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=4, val_interval=100)
param_scheduler = dict(_delete_=True, type='ConstantLR', factor=1.0, by_epoch=False)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval=4))
log_processor = dict(window_size=1, by_epoch=False)
randomness = dict(seed=0)

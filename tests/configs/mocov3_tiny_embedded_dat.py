# Test-sized DAT MoCo v3 pre-training: 16 train images at 64 px, two iterations of 8.
_base_ = ['../../configs/dat/mocov3_resnet18_dat_8xb64-20e_embedded.py']

data_root = 'data/embedded_cls_tiny/'
settings = dict(seed=0, num_train=32, num_val=16, image_size=64)
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, **settings, indices=16))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2)
param_scheduler = dict(_delete_=True, type='ConstantLR', factor=1.0, by_epoch=False)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval=2))
log_processor = dict(window_size=1, by_epoch=False)
randomness = dict(seed=0)

# DAT twin of ../resnet/resnet18_8xb32-10e_embedded.py with the shipped tiny discretizer.
_base_ = ['../resnet/resnet18_8xb32-10e_embedded.py']

data_preprocessor = dict(
    type='mmdat.DATClsDataPreprocessor',
    dat=dict(
        discretizer=dict(type='mmdat.VQGANDiscretizer', preset='embedded-tiny-f4-4096',
                         checkpoint='{{ fileDirname }}/../../checkpoints/vqgan_tiny_f4_embedded.pth'),
        attack=dict(type='l2', eps=0.1, step_size=0.1, steps=1, random_start_prob=0.8),
        train_on='clean+adv',
        bn_mode='train'))
custom_hooks = [dict(type='mmdat.DATHook', vis_interval=100)]

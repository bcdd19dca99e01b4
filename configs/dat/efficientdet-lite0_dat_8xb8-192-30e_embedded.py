# DAT twin of ../efficientdet/efficientdet-lite0_8xb8-192-30e_embedded.py, with the shipped discretizer
# (a taming VQGAN trained on the embedded dataset, configs/vqgan/).
_base_ = ['../efficientdet/efficientdet-lite0_8xb8-192-30e_embedded.py']

model = dict(
    data_preprocessor=dict(
        type='mmdat.DATDataPreprocessor',
        dat=dict(
            discretizer=dict(
                type='mmdat.VQGANDiscretizer',
                preset='embedded-tiny-f4-4096',
                checkpoint='{{ fileDirname }}/../../checkpoints/vqgan_tiny_f4_embedded.pth'),
            attack=dict(type='l2', eps=0.1, step_size=0.1, steps=1, random_start_prob=0.8),
            train_on='clean+adv',
            bn_mode='train')))
custom_hooks = [dict(type='mmdat.DATHook', vis_interval=200)]

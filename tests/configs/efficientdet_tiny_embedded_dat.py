# The test-sized EfficientDet-Lite0 run with DAT and the shipped discretizer.
_base_ = ['./efficientdet_tiny_embedded.py']

model = dict(
    data_preprocessor=dict(
        type='mmdat.DATDataPreprocessor',
        dat=dict(
            discretizer=dict(type='mmdat.VQGANDiscretizer', preset='embedded-tiny-f4-4096',
                             checkpoint='{{ fileDirname }}/../../checkpoints/vqgan_tiny_f4_embedded.pth'),
            attack=dict(type='L2Attack', eps=0.5, step_size=0.5, random_start_prob=0.8),
            train_on='clean+adv')))
custom_hooks = [dict(type='mmdat.DATHook', stats_interval=1, vis_interval=0)]

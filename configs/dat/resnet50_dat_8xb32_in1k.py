# ResNet-50 on ImageNet with DAT (the paper's classification setting, official attack).
# mmpretrain configs keep the data preprocessor at the top level; the runner merges it into the model.
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

data_preprocessor = dict(
    type='mmdat.DATClsDataPreprocessor',
    dat=dict(
        discretizer=dict(
            type='mmdat.VQGANDiscretizer',
            preset='openimages-f8-16384',
            checkpoint='checkpoints/vq-f8.zip',
            chunk_size=16),
        attack=dict(type='l2', eps=0.1, step_size=0.1, steps=1, random_start_prob=0.8),
        train_on='clean+adv',
        bn_mode='train'))
custom_hooks = [dict(type='mmdat.DATHook')]

# The DAT settings of the CPU configs on the embedded dataset: the shipped discretizer
# embedded-small-f4-4096 (a taming VQGAN trained on the embedded dataset with perceptual and PatchGAN
# losses, configs/vqgan/) and the official attack (one L2 step, eps 0.1, random start with probability
# 0.8), clean and adversarial loss together, BatchNorm in train mode. A DAT config copies it into its
# preprocessor with `dat={{_base_.dat}}` (see dat_openimages_f8_16384.py).
dat = dict(
    discretizer=dict(
        type='mmdat.VQGANDiscretizer',
        preset='embedded-small-f4-4096',
        checkpoint='{{ fileDirname }}/../../../checkpoints/vqgan_small_f4_embedded.pth'),
    attack=dict(type='L2Attack', eps=0.1, step_size=0.1, steps=1, random_start_prob=0.8),
    train_on='clean+adv',
    bn_mode='train')

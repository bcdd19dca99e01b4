# The paper's DAT settings (Mao et al., NeurIPS 2022; the official attack), for every paper DAT config:
# the OpenImages f8-16384 VQGAN of latent-diffusion as Q, one L2 step (eps 0.1, step size 0.1, random
# start with probability 0.8), clean and adversarial loss together, BatchNorm in train mode.
# A DAT config lists this file after its twin and copies the block into its preprocessor with
# `dat={{_base_.dat}}`; override that copy (`model.data_preprocessor.dat.*` for mmdet,
# `data_preprocessor.dat.*` for mmpretrain), since the top-level `dat` is read only at load time.
dat = dict(
    discretizer=dict(
        type='mmdat.VQGANDiscretizer',
        preset='openimages-f8-16384',
        checkpoint='checkpoints/vq-f8.zip',  # latent-diffusion's vq-f8.zip, or the preset's url
        chunk_size=8),
    attack=dict(type='L2Attack', eps=0.1, step_size=0.1, steps=1, random_start_prob=0.8),
    train_on='clean+adv',
    bn_mode='train')

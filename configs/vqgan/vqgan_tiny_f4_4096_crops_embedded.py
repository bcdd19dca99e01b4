# Stage 1 of mmdat's shipped discretizer, a tiny taming VQGAN (f4, K=4096, d=4) on the embedded
# detection dataset's train split: 1000 iterations on 64 px crops (cheap iterations for textures).
# Stage 2, vqgan_tiny_f4_4096_embedded.py, fine-tunes it on whole images.
# See configs/vqgan/README.md.
_base_ = ['./vqgan_tiny_f8_embedded.py']

# f4 keeps 4x4 patches per visual word (40x40 words at 160 px): the fidelity DAT's Eq. 7 needs on
# CPU. A dense codebook (K 4096) in a small code dimension (d 4), as the paper's f8-16384 (d 4).
codebook_size = 4096
generator = dict(
    ddconfig=dict(
        double_z=False,
        z_channels=4,
        resolution=64,
        in_channels=3,
        out_ch=3,
        ch=32,
        ch_mult=[1, 1, 2],
        num_res_blocks=1,
        attn_resolutions=[],
        dropout=0.0),
    n_embed=codebook_size,
    embed_dim=4)

# The cosine schedule below is laid out for 3000 iterations; stage 1 stops at 1000 and hands over
# to stage 2 while the learning rate is still high (this is the recipe that was run and measured).
max_iters = 1000
schedule_iters = 3000
# No PatchGAN: its term trades pixel fidelity for perceptual sharpness, and DAT's Eq. 7 needs
# x_hat ~ x in pixels. The colour term keeps block means (colour) in place, which L1 alone lets
# drift towards the dominant palette (tinted textures came back grey: colour shift 11 of 255).
model = dict(
    generator=generator,
    discriminator=None,
    disc_start=0,
    color_weight=1.0,
    color_pool=8,
    kmeans_iters=10,
    dead_code_iters=50)

val_evaluator = dict(codebook_size=codebook_size)
test_evaluator = val_evaluator

train_cfg = dict(max_iters=max_iters, val_interval=1000)
# Cosine decay of both learning rates after a short warm-up: the last PSNR dB come from a small lr.
optim_wrapper = dict(
    _delete_=True,
    constructor='mmdat.MultiOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=4e-4, betas=(0.5, 0.9))))
param_scheduler = dict(generator=[
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=schedule_iters - 100, eta_min=2e-5, by_epoch=False,
         begin=100, end=schedule_iters),
])
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1))
randomness = dict(seed=0)

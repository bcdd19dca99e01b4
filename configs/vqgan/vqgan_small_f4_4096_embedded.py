# mmdat's realistic shipped discretizer (checkpoints/vqgan_small_f4_embedded.pth, preset
# 'embedded-small-f4-4096'): the tiny f4-4096 network widened from 32 to 64 channels per level,
# started from the tiny one's weights with the same function (Net2WiderNet), then trained on whole
# 160 px train images with L1, the colour term, a perceptual distance in EfficientNet-Lite1
# features and, from iteration `disc_start`, a PatchGAN with taming's adaptive weight.
# Why each piece, results, command and time: configs/vqgan/README.md.
_base_ = ['./vqgan_tiny_f4_4096_embedded.py']

codebook_size = 4096
generator = dict(
    ddconfig=dict(
        double_z=False,
        z_channels=4,
        resolution=64,
        in_channels=3,
        out_ch=3,
        # 64 channels on the last decoder level: taming's output GroupNorm (32 groups) then
        # normalises pairs of channels instead of single ones, so the image's mean colour can pass
        ch=64,
        ch_mult=[1, 1, 2],
        num_res_blocks=1,
        attn_resolutions=[],
        dropout=0.0),
    n_embed=codebook_size,
    embed_dim=4)

max_iters = 1500
disc_start = 700
load_from = None
model = dict(
    generator=generator,
    init_generator='checkpoints/vqgan_tiny_f4_embedded.pth',
    color_weight=1.0,
    perceptual_weight=0.05,
    perceptual_net='efficientnet-lite1',
    discriminator=dict(_delete_=True, type='mmdat.PatchDiscriminator', base_channels=32, num_layers=3),
    disc_start=disc_start,
    disc_weight=0.5,
    dead_code_iters=100)

train_dataloader = dict(batch_size=2)
val_evaluator = dict(codebook_size=codebook_size, frechet=True)
test_evaluator = val_evaluator
train_cfg = dict(max_iters=max_iters, val_interval=250)

optim_wrapper = dict(
    _delete_=True,
    constructor='mmdat.MultiOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.9))),
    discriminator=dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.9))))
cosine = dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-5, by_epoch=False, begin=0,
              end=max_iters)
param_scheduler = dict(_delete_=True, generator=[cosine], discriminator=[cosine])
default_hooks = dict(checkpoint=dict(interval=250, max_keep_ckpts=8))
randomness = dict(seed=0)

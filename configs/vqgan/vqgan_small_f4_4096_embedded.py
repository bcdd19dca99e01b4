# mmdat's second shipped discretizer (checkpoints/vqgan_small_f4_embedded.pth, preset
# 'embedded-small-f4-4096', an opt-in): the tiny f4-4096 network widened from 32 to 64 channels per
# level, started from the tiny one's weights with the same function (Net2WiderNet), then trained on
# whole 160 px train images with L1, the colour term, a perceptual distance in EfficientNet-Lite1
# features and, from iteration `disc_start`, a PatchGAN with taming's adaptive weight.
# Why each piece, results, command and time: configs/vqgan/README.md.
_base_ = ['./vqgan_tiny_f4_4096_embedded.py']

# The stage-2 tiny network with 64 channels: taming's last GroupNorm (32 groups) then normalises
# pairs of channels instead of single ones (not enough to keep a flat image's colour: see the README)
generator = dict(ddconfig=dict(ch=64))

disc_start = 700
load_from = None
model = dict(
    generator=generator,
    init_generator='checkpoints/vqgan_tiny_f4_embedded.pth',
    perceptual_weight=0.05,
    perceptual_net='efficientnet-lite1',
    discriminator=dict(_delete_=True, type='mmdat.PatchDiscriminator', base_channels=32, num_layers=3),
    disc_start=disc_start,
    disc_weight=0.5,
    dead_code_iters=100)

val_evaluator = dict(frechet=True)
test_evaluator = val_evaluator
train_cfg = dict(val_interval=250)

optim_wrapper = dict(
    _delete_=True,
    constructor='mmdat.MultiOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.9))),
    discriminator=dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.9))))
cosine = dict(type='CosineAnnealingLR', T_max={{_base_.max_iters}}, eta_min=1e-5, by_epoch=False,
              begin=0, end={{_base_.max_iters}})
param_scheduler = dict(_delete_=True, generator=[cosine], discriminator=[cosine])
default_hooks = dict(checkpoint=dict(interval=250, max_keep_ckpts=8))

# mmdat's shipped discretizer: a tiny taming VQGAN (f4, K=4096, d=4) trained on the embedded
# detection dataset's train split -> checkpoints/vqgan_tiny_f4_embedded.pth (preset
# 'embedded-tiny-f4-4096'). Results and the recipe's reasons: configs/vqgan/README.md.
# Train: .venv/bin/python tools/train.py configs/vqgan/vqgan_tiny_f4_4096_embedded.py --work-dir DIR
# Export: .venv/bin/python tools/export_discretizer.py DIR/iter_3000.pth OUT.pth
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

max_iters = 3000
disc_start = 2400
model = dict(
    generator=generator,
    disc_start=disc_start,
    disc_weight=0.05,
    kmeans_iters=10,
    dead_code_iters=50)

val_evaluator = dict(codebook_size=codebook_size)
test_evaluator = val_evaluator

train_cfg = dict(max_iters=max_iters, val_interval=1000)
# Cosine decay of both learning rates after a short warm-up: the last PSNR dB come from a small lr.
param_scheduler = dict(
    generator=[
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
        dict(type='CosineAnnealingLR', T_max=max_iters - 100, eta_min=2e-5, by_epoch=False,
             begin=100, end=max_iters),
    ],
    discriminator=[
        dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=2e-5, by_epoch=False,
             begin=0, end=max_iters),
    ])
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1))
randomness = dict(seed=0)

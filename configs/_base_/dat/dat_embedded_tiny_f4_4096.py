# The embedded DAT settings (dat_embedded_small_f4_4096.py) with the former default discretizer,
# embedded-tiny-f4-4096 (32 channels per level, L1 and colour losses): 0.5 dB more PSNR, a blurred
# texture, about a third of the small one's cost per image; see configs/vqgan/README.md. The studies
# before 2026-12-07 ran with it. Swap it in for the small one in a config's _base_ list.
_base_ = ['./dat_embedded_small_f4_4096.py']

dat = dict(
    discretizer=dict(
        preset='embedded-tiny-f4-4096',
        checkpoint='{{ fileDirname }}/../../../checkpoints/vqgan_tiny_f4_embedded.pth'))

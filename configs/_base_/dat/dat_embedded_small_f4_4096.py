# The embedded DAT settings (dat_embedded_tiny_f4_4096.py) with the larger shipped discretizer,
# embedded-small-f4-4096 (64 channels per level, trained with a perceptual and a PatchGAN loss): a
# lower Fréchet distance and more texture than the default, about 3x its cost per image; see
# configs/vqgan/README.md. Swap it in for the tiny one in a config's _base_ list.
_base_ = ['./dat_embedded_tiny_f4_4096.py']

dat = dict(
    discretizer=dict(
        preset='embedded-small-f4-4096',
        checkpoint='{{ fileDirname }}/../../../checkpoints/vqgan_small_f4_embedded.pth'))

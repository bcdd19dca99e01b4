# MoCo v3 ResNet-50 pre-training on ImageNet, 100 epochs, mmpretrain's recipe as it is (8 x 512 images per
# iteration). The paper's Table 3 row (DAT +0.97 linear top-1) pre-trains 100 epochs at batch 2048: to
# match it, run on 8 GPUs with `--cfg-options train_dataloader.batch_size=256 --auto-scale-lr`.
# Linear probe: mmpretrain::mocov3/benchmarks/resnet50_8xb128-linear-coslr-90e_in1k.py.
# The DAT twin is ../dat/mocov3_resnet50_dat_8xb512-amp-coslr-100e_in1k.py.
_base_ = ['mmpretrain::mocov3/mocov3_resnet50_8xb512-amp-coslr-100e_in1k.py']

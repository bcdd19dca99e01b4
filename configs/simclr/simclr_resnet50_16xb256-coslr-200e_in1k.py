# SimCLR ResNet-50 pre-training on ImageNet, 200 epochs, mmpretrain's recipe as it is (16 x 256 images per
# iteration). The paper's Table 3 row (DAT +0.58 linear top-1) pre-trains 200 epochs at batch 1024:
# `--cfg-options train_dataloader.batch_size=64 --auto-scale-lr` on 16 GPUs.
# Linear probe: mmpretrain::mocov3/benchmarks/resnet50_8xb128-linear-coslr-90e_in1k.py (any ResNet-50).
# The DAT twin is ../dat/simclr_resnet50_dat_16xb256-coslr-200e_in1k.py.
_base_ = ['mmpretrain::simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py']

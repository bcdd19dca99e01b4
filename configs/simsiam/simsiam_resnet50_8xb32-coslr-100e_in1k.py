# SimSiam ResNet-50 pre-training on ImageNet, 100 epochs, mmpretrain's recipe as it is (8 x 32 images per
# iteration). The paper's Table 3 row (DAT +0.25 linear top-1) pre-trains 100 epochs at batch 512:
# `--cfg-options train_dataloader.batch_size=64 --auto-scale-lr` on 8 GPUs.
# Linear probe: mmpretrain::simsiam/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py.
# The DAT twin is ../dat/simsiam_resnet50_dat_8xb32-coslr-100e_in1k.py.
_base_ = ['mmpretrain::simsiam/simsiam_resnet50_8xb32-coslr-100e_in1k.py']

# ResNet-50 on ImageNet, mmpretrain's recipe as it is: the baseline of the paper's ImageNet ResNet-50
# row. The DAT twin is ../dat/resnet50_dat_8xb32_in1k.py.
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']

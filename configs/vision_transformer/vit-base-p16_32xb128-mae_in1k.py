# ViT-B/16 at 224 px trained from scratch on ImageNet, mmpretrain's recipe as it is (the MAE paper's
# supervised ViT-B; 82.37% top-1 in mmpretrain): the baseline of the paper's ImageNet ViT-B/16 row.
# The DAT twin is ../dat/vit-base-p16_dat_32xb128-mae_in1k.py.
# Of mmpretrain 1.2.0's ViT-B/16 configs this is the nearest to AugReg (Steiner et al. 2021): 300 epochs,
# batch 4096, RandAugment, Mixup, stochastic depth 0.1. AugReg differs: Adam (beta2 0.999) with gradient
# clipping at 1 and 10k warm-up steps, dropout 0.1 as well, no CutMix, no random erasing, no EMA. Here:
# AdamW (beta2 0.95, weight decay 0.3), 20 warm-up epochs, no clipping, no dropout, Mixup 0.8 + CutMix
# 1.0, random erasing 0.25, label smoothing 0.1, EMA. The official DAT command (easyrobust) uses DeiT's
# recipe instead (batch 1024, AdamW wd 0.05, drop path 0.25), as in mmpretrain::deit/deit-base_16xb64_in1k.py.
_base_ = ['mmpretrain::vision_transformer/vit-base-p16_32xb128-mae_in1k.py']

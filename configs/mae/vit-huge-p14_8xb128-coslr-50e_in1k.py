# ViT-H/14 fine-tuned on ImageNet from MAE pre-training (50 epochs, layer decay 0.75), mmpretrain's
# recipe as it is: the baseline of the paper's MAE ViT-H row. The DAT twin is
# ../dat/mae_vit-huge-p14_dat_8xb128-coslr-50e_in1k.py.
_base_ = ['mmpretrain::mae/benchmarks/vit-huge-p14_8xb128-coslr-50e_in1k.py']

# mmpretrain leaves the pre-trained weights empty: its MAE ViT-H (1600 epochs, mmpretrain's metafile).
model = dict(
    backbone=dict(
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmselfsup/1.x/mae/'
            'mae_vit-huge-p16_8xb512-fp16-coslr-1600e_in1k/'
            'mae_vit-huge-p16_8xb512-fp16-coslr-1600e_in1k_20220916-ff848775.pth')))

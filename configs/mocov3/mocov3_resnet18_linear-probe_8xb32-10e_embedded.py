# Linear probe of a ResNet-18 pre-trained by ./mocov3_resnet18_8xb64-20e_embedded.py (or its DAT twin):
# the backbone frozen (BN in eval mode), a linear head trained on the embedded classification labels,
# as mmpretrain's linear benchmarks do. Name the pre-trained checkpoint on the command line:
#   python tools/train.py configs/mocov3/mocov3_resnet18_linear-probe_8xb32-10e_embedded.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/mocov3/epoch_20.pth
# then judge clean and corrupted accuracy with tools/test_robustness.py.
_base_ = ['../resnet/resnet18_8xb32-10e_embedded.py']

model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=0.))
param_scheduler = dict(T_max=10)
train_cfg = dict(max_epochs=10, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=1))

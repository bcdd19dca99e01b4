# Two-process gloo DDP on the CPU with DAT on EfficientDet (its loss normalises by reduce_mean);
# every rank dumps its parameters after training.
_base_ = ['./efficientdet_tiny_embedded_dat.py']
custom_imports = dict(imports=['mmdat', 'ddp_param_dump_hook'], allow_failed_imports=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'), mp_cfg=dict(mp_start_method='fork'))
train_dataloader = dict(batch_size=2)
train_cfg = dict(max_iters=3)
custom_hooks = [dict(type='mmdat.DATHook', stats_interval=1, vis_interval=0), dict(type='ParamDumpHook')]

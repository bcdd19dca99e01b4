# A tiny taming VQGAN (f8, K=512, d=8; 1.04M parameters, a 4.0 MiB fp32 state dict) trained on
# the embedded detection dataset: checkpoints/vqgan_tiny_f8_embedded.pth, mmdat's first shipped
# discretizer (preset 'embedded-tiny-f8-512'), kept for reproducibility; the default is now f4-4096.
# Result: val PSNR 18.60 dB, codebook usage 0.979, perplexity 238 (see configs/vqgan/README.md).
# Data: .venv/bin/python tools/make_embedded_dataset.py --out-dir data/embedded_det --task det
# Train: .venv/bin/python tools/train.py configs/vqgan/vqgan_tiny_f8_embedded.py --work-dir DIR
# Export: .venv/bin/python tools/export_discretizer.py DIR/iter_1000.pth OUT.pth
default_scope = 'mmengine'
custom_imports = dict(
    imports=['mmdat', 'mmdat.models.vqgan_training', 'mmdat.datasets.image_folder'],
    allow_failed_imports=False)

codebook_size = 512
generator = dict(
    ddconfig=dict(
        double_z=False,
        z_channels=8,
        resolution=64,
        in_channels=3,
        out_ch=3,
        ch=32,
        ch_mult=[1, 1, 2, 2],
        num_res_blocks=1,
        attn_resolutions=[],
        dropout=0.0),
    n_embed=codebook_size,
    embed_dim=8)

max_iters = 1000
model = dict(
    type='mmdat.VQGANTrainer',
    generator=generator,
    discriminator=dict(type='mmdat.PatchDiscriminator', base_channels=32, num_layers=2),
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3, bgr_to_rgb=True),
    codebook_weight=1.0,
    disc_start=700,
    disc_weight=0.1,
    kmeans_iters=10,
    dead_code_iters=50)
# Distributed runs wrap generator and discriminator in separate DDPs.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', broadcast_buffers=False,
    find_unused_parameters=False)

data_root = 'data/embedded_det/'
dataset_type = 'mmdat.ImageFolderDataset'
train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomCrop', crop_size=64),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]
val_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, data_prefix=dict(img_path='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=10,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, data_prefix=dict(img_path='val'),
        pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmdat.ReconstructionMetric', codebook_size=codebook_size)
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# taming's Adam(0.5, 0.9); a larger learning rate than taming's 4.5e-6 x batch for a short run.
optim_wrapper = dict(
    constructor='mmdat.MultiOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=4e-4, betas=(0.5, 0.9))),
    discriminator=dict(optimizer=dict(type='Adam', lr=4e-4, betas=(0.5, 0.9))))

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=False, window_size=50)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
log_level = 'INFO'
load_from = None
resume = False

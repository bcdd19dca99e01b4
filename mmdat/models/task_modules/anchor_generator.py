"""EfficientDet's anchors: per level 3 octave scales x 3 aspect pairs, scale-major, centred in cells."""
from typing import Optional, Sequence, Tuple

import torch
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from torch import Tensor

from mmdat.registry import TASK_UTILS

# (width, height) factors of the official EfficientDet anchors: square, wide, tall
EFFICIENTDET_ASPECTS = ((1.0, 1.0), (1.4, 0.7), (0.7, 1.4))


@TASK_UTILS.register_module()
class EfficientDetAnchorGenerator(AnchorGenerator):
    """Anchors of side ``anchor_scale * stride * 2 ** (i / scales_per_octave)`` stretched by explicit
    (width, height) factors, ordered scale-major as the official model's head channels are, centred at
    half a stride.

    mmdet's ``AnchorGenerator`` derives both factors from one ratio (``sqrt(r)``, ``1/sqrt(r)``), which
    cannot give the official (1.4, 0.7): their product is 0.98, not 1.
    """

    def __init__(self,
                 strides: Sequence[int] = (8, 16, 32, 64, 128),
                 anchor_scale: float = 4.0,
                 scales_per_octave: int = 3,
                 aspects: Sequence[Tuple[float, float]] = EFFICIENTDET_ASPECTS,
                 center_offset: float = 0.5) -> None:
        self.aspects = torch.tensor(aspects, dtype=torch.float32)
        super().__init__(strides=list(strides), ratios=[h / w for w, h in aspects],
                         octave_base_scale=anchor_scale, scales_per_octave=scales_per_octave,
                         scale_major=False, center_offset=center_offset)

    def gen_single_level_base_anchors(self, base_size: float, scales: Tensor, ratios: Tensor,
                                      center: Optional[Tuple[float, float]] = None) -> Tensor:
        x_center, y_center = center if center is not None else (self.center_offset * base_size, ) * 2
        ws = (base_size * scales[:, None] * self.aspects[None, :, 0]).view(-1)
        hs = (base_size * scales[:, None] * self.aspects[None, :, 1]).view(-1)
        return torch.stack([x_center - 0.5 * ws, y_center - 0.5 * hs,
                            x_center + 0.5 * ws, y_center + 0.5 * hs], dim=-1)

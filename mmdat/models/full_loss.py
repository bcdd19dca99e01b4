"""The loss DAT attacks and the adversarial evaluation maximises: the model's whole training loss."""
from typing import Any, List

import torch.nn as nn
from torch import Tensor


def full_loss(model: nn.Module, inputs: Tensor, data_samples: List[Any]) -> Tensor:
    """Every ``*loss*`` term of ``model(inputs, data_samples, mode='loss')`` summed, as mmengine's
    ``parse_losses`` does: YOLOv3's ``loss_cls + loss_conf + loss_xy + loss_wh``, EfficientDet's
    ``loss_cls + loss_bbox``, Faster R-CNN's RPN and RoI terms together."""
    return model.parse_losses(model(inputs, data_samples, mode='loss'))[0]

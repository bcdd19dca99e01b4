"""The pixel domain of a data preprocessor's output, and the way to and from RGB in [0, 1].

DAT's attack and discretizer, and the adversarial robustness evaluation, all work on RGB in [0, 1];
models see ``(pixels - mean) / std`` in their own channel order, padded. This module is the one place
that converts between the two, for images and for input gradients.
"""
from dataclasses import dataclass
from typing import Any, List, Optional

import torch
from torch import Tensor


@dataclass
class PixelDomain:
    """How a preprocessed batch relates to RGB in [0, 1].

    Attributes:
        mean (Tensor, optional): (3, 1, 1) channel means in 0-255, in the model's channel order;
            None when the preprocessor does not normalise.
        std (Tensor, optional): (3, 1, 1) channel standard deviations in 0-255, or None.
        rgb (bool): whether the model input is RGB (False: BGR, mmcv's loading order).
    """
    mean: Optional[Tensor]
    std: Optional[Tensor]
    rgb: bool

    @classmethod
    def of(cls, preprocessor: Any) -> 'PixelDomain':
        """The domain of an mmengine / mmdet / mmpretrain data preprocessor (stock or DAT): the one
        place that knows which channel order each hands the model (mmcv loads BGR)."""
        if hasattr(preprocessor, '_channel_conversion'):  # mmengine / mmdet: bgr_to_rgb / rgb_to_bgr
            rgb = bool(preprocessor._channel_conversion)
        else:  # mmpretrain: to_rgb
            rgb = bool(getattr(preprocessor, 'to_rgb', False))
        if getattr(preprocessor, '_enable_normalize', False):
            return cls(preprocessor.mean.detach().clone(), preprocessor.std.detach().clone(), rgb)
        return cls(None, None, rgb)

    def _affine(self, like: Tensor) -> tuple:
        if self.mean is None:
            return like.new_zeros(3, 1, 1), like.new_ones(3, 1, 1)
        return self.mean.to(like).view(3, 1, 1), self.std.to(like).view(3, 1, 1)

    def to_unit_rgb(self, inputs: Tensor) -> Tensor:
        """Preprocessed batch (N, 3, H, W) -> RGB in [0, 1] (padding included; mask it apart)."""
        if inputs.dim() != 4 or inputs.shape[1] != 3:
            raise ValueError(f'expected 3-channel image batches, but got inputs of shape '
                             f'{tuple(inputs.shape)}')
        mean, std = self._affine(inputs.float())
        pixels = (inputs.float() * std + mean) / 255.0
        if not self.rgb:
            pixels = pixels.flip(1)
        return pixels.clamp(0, 1)

    def from_unit_rgb(self, images: Tensor, reference: Tensor, valid: Tensor) -> Tensor:
        """RGB in [0, 1] -> the preprocessed domain; outside ``valid`` the values of ``reference``
        (the stock output) are kept bit-exactly."""
        mean, std = self._affine(reference)
        if not self.rgb:
            images = images.flip(1)
        normalised = ((images * 255.0 - mean) / std).to(reference.dtype)
        return torch.where(valid, normalised, reference)

    def gradient_to_unit_rgb(self, grad: Tensor) -> Tensor:
        """The gradient of a loss with respect to the preprocessed input, as the gradient with
        respect to RGB in [0, 1] (chain rule through the normalisation and the channel order)."""
        _, std = self._affine(grad.float())
        grad = grad.float() * 255.0 / std
        return grad if self.rgb else grad.flip(1)

    @staticmethod
    def valid_mask(inputs: Tensor, data_samples: Optional[List[Any]]) -> Tensor:
        """(N, 1, H, W) bool mask of each image's ``img_shape`` (stock padding is bottom/right)."""
        n, _, height, width = inputs.shape
        mask = torch.zeros(n, 1, height, width, dtype=torch.bool, device=inputs.device)
        for i in range(n):
            shape = None
            if data_samples is not None:
                shape = data_samples[i].metainfo.get('img_shape')
            h, w = (shape[0], shape[1]) if shape is not None else (height, width)
            mask[i, :, :min(int(h), height), :min(int(w), width)] = True
        return mask

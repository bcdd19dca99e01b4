"""The identity discretizer ``x̂ = x``, for ablations (DAT without discretization) and cheap tests."""
from typing import Optional

import torch

from mmdat.registry import MODELS
from .base import BaseDiscretizer


@MODELS.register_module()
class IdentityDiscretizer(BaseDiscretizer):
    """``Q(x) = x``: returns a detached copy of the images; it has no codebook."""

    downsample_factor = 1
    num_codes = None

    def discretize(self, images: torch.Tensor) -> torch.Tensor:
        self._check_images(images)
        return images.detach().clone()

    def codes(self, images: torch.Tensor) -> Optional[torch.Tensor]:
        """No codebook: always None."""
        self._check_images(images)
        return None

    def __repr__(self) -> str:
        return 'IdentityDiscretizer()'

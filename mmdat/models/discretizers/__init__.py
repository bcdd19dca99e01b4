"""Discretizers: the frozen Q of DAT (``x̂ = Q(x)``) on RGB images in [0, 1]."""
from .base import BaseDiscretizer
from .identity import IdentityDiscretizer
from .presets import VQGAN_PRESETS, VQGANPreset, get_vqgan_preset, shipped_checkpoint
from .taming_vqgan import TamingVQGAN
from .vqgan import VQGANDiscretizer, load_vqgan_weights

__all__ = [
    'BaseDiscretizer', 'IdentityDiscretizer', 'VQGANDiscretizer', 'TamingVQGAN', 'VQGANPreset',
    'VQGAN_PRESETS', 'get_vqgan_preset', 'load_vqgan_weights', 'shipped_checkpoint'
]

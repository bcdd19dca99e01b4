"""Data transforms registered in ``mmdat.registry.TRANSFORMS``."""
from .corrupt_image import CorruptImage, CorruptionCache, image_key

__all__ = ['CorruptImage', 'CorruptionCache', 'image_key']

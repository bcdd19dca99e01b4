"""Data transforms registered in ``mmdat.registry.TRANSFORMS``."""
from .corrupt_image import CorruptImage, CorruptionCache, image_key, write_image

__all__ = ['CorruptImage', 'CorruptionCache', 'image_key', 'write_image']

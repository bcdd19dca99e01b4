"""``mmcv.adjust_hue`` that works on numpy 2.

mmcv 2.1's ``adjust_hue`` shifts the hue channel by ``np.uint8(hue_factor * 255)``; numpy 2 refuses a
negative value there (``OverflowError: Python integer -14 out of bounds for uint8``), so every
``ColorJitter`` with ``hue > 0`` (mmpretrain's MoCo v3, SimCLR, SimSiam and BYOL pipelines) fails on
about half of its draws. :func:`adjust_hue` shifts by the same amount, ``int(hue_factor * 255)``
modulo 256, the value numpy 1 wrapped to.
"""
from typing import Optional

import cv2
import numpy as np
from PIL import Image

#: mmcv's own ``adjust_hue``, kept where :func:`patch_adjust_hue` replaced it
MMCV_ADJUST_HUE = None


def adjust_hue(img: np.ndarray, hue_factor: float, backend: Optional[str] = None) -> np.ndarray:
    """Rotate the hue of a BGR image by ``hue_factor`` of a turn (in [-0.5, 0.5]), with mmcv's
    ``cv2`` (full-range HSV) or ``pillow`` conversion."""
    from mmcv.image.io import imread_backend
    backend = backend or imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f"backend: {backend} is not supported. Supported backends are 'cv2', 'pillow'")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    shift = int(hue_factor * 255) % 256

    def rotated(hue: np.ndarray) -> np.ndarray:
        return ((hue.astype(np.int16) + shift) % 256).astype(np.uint8)

    if backend == 'pillow':
        if img.dtype != np.uint8:
            raise TypeError('the pillow backend only supports uint8 images')
        hue, saturation, value = Image.fromarray(img[..., ::-1], mode='RGB').convert('HSV').split()
        hue = Image.fromarray(rotated(np.array(hue, dtype=np.uint8)), 'L')
        merged = Image.merge('HSV', (hue, saturation, value)).convert('RGB')
        return np.array(merged, dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] = rotated(hsv[..., 0])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def patch_adjust_hue() -> bool:
    """Put :func:`adjust_hue` in mmcv's place where mmcv's fails on a negative factor; returns
    whether it did."""
    import mmcv
    import mmcv.image
    import mmcv.image.photometric
    if mmcv.image.photometric.adjust_hue is adjust_hue:
        return False
    try:
        mmcv.image.photometric.adjust_hue(np.zeros((1, 1, 3), np.uint8), -0.1, backend='cv2')
        return False
    except OverflowError:
        pass
    global MMCV_ADJUST_HUE
    MMCV_ADJUST_HUE = mmcv.image.photometric.adjust_hue
    for module in (mmcv, mmcv.image, mmcv.image.photometric):
        module.adjust_hue = adjust_hue
    return True

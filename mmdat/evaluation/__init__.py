"""Evaluation: metrics registered in ``mmdat.registry.METRICS``."""
from .metrics import ReconstructionMetric, color_shift, psnr

__all__ = ['ReconstructionMetric', 'color_shift', 'psnr']

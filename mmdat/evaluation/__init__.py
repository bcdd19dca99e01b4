"""Evaluation: metrics registered in ``mmdat.registry.METRICS``."""
from .metrics import ReconstructionMetric, psnr

__all__ = ['ReconstructionMetric', 'psnr']

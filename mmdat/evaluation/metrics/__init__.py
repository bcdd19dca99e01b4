"""Metrics."""
from .reconstruction import ReconstructionMetric, psnr

__all__ = ['ReconstructionMetric', 'psnr']

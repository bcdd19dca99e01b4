from .dat_hook import DATHook

__all__ = ['DATHook']

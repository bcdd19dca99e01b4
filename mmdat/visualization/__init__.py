from .dat_grid import make_dat_grid

__all__ = ['make_dat_grid']

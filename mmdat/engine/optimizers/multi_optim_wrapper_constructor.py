"""Optimizer-wrapper constructor for models trained with several optimizers (e.g. a GAN)."""
from typing import Optional

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict

from mmdat.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Builds one optimizer wrapper per named submodule and returns them as an ``OptimWrapperDict``.

    Each key of ``optim_wrapper_cfg`` names an attribute of the model (``generator``,
    ``discriminator``); its value is an ordinary single-optimizer ``optim_wrapper`` config, which
    may hold its own ``paramwise_cfg`` and ``constructor`` (default
    ``DefaultOptimWrapperConstructor``). mmengine 0.10 ships no such constructor.

    Example:
        >>> optim_wrapper = dict(
        ...     constructor='mmdat.MultiOptimWrapperConstructor',
        ...     generator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.9))),
        ...     discriminator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.9))))

    Args:
        optim_wrapper_cfg (dict): submodule name -> optim_wrapper config.
        paramwise_cfg (dict, optional): must be None; give ``paramwise_cfg`` per submodule.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError('MultiOptimWrapperConstructor takes paramwise_cfg inside each '
                             f'submodule entry, not at the top level; got {paramwise_cfg}')
        if not optim_wrapper_cfg:
            raise ValueError('MultiOptimWrapperConstructor needs at least one submodule entry, '
                             'e.g. generator=dict(optimizer=dict(type="Adam", lr=1e-4))')
        self.constructors = {}
        for name, cfg in optim_wrapper_cfg.items():
            if not isinstance(cfg, dict) or 'optimizer' not in cfg:
                raise TypeError(f'optim_wrapper.{name} must be an optim_wrapper config dict with '
                                f"an 'optimizer' key, but got {cfg!r}")
            cfg = dict(cfg)
            constructor_type = cfg.pop('constructor', 'DefaultOptimWrapperConstructor')
            submodule_paramwise_cfg = cfg.pop('paramwise_cfg', None)
            self.constructors[name] = OPTIM_WRAPPER_CONSTRUCTORS.build(
                dict(type=constructor_type, optim_wrapper_cfg=cfg,
                     paramwise_cfg=submodule_paramwise_cfg))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        """Build the wrappers from the submodules of ``model`` (unwrapped from DDP if needed)."""
        if is_model_wrapper(model):
            model = model.module
        wrappers = {}
        for name, constructor in self.constructors.items():
            submodule = getattr(model, name, None)
            if not isinstance(submodule, nn.Module):
                raise AttributeError(
                    f'optim_wrapper has an entry {name!r}, but {type(model).__name__} has no '
                    f'submodule {name!r}')
            wrappers[name] = constructor(submodule)
        return OptimWrapperDict(**wrappers)

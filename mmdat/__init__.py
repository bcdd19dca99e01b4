"""mmdat: Discrete Adversarial Training (DAT) for OpenMMLab.

Importing mmdat checks the installed stack and routes mmengine's checkpoint loading through mmdat's
safe ``weights_only=True`` loaders. Components register lazily: ``type='mmdat.Name'`` in a config imports
the module that defines ``Name``.
"""
from .utils.version_check import check_versions
from .version import __version__

check_versions()

from .utils.checkpoint import register_safe_checkpoint_loaders  # noqa: E402

register_safe_checkpoint_loaders()

__all__ = ['__version__']

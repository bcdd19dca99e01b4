"""mmdat: Discrete Adversarial Training (DAT) for OpenMMLab.

Components register lazily: ``type='mmdat.Name'`` in a config imports the module that defines
``Name``.

What ``import mmdat`` changes outside mmdat (all of it, in this one place):

1. It checks the installed stack (torch, mmengine, mmcv, mmdet, mmpretrain) and raises an error that
   says what to install when a version cannot work (``mmdat.utils.version_check``).
2. It registers mmdat's checkpoint loaders for mmengine's local-file and ``http(s)://`` schemes
   (``CheckpointLoader.register_scheme(..., force=True)``), so every ``load_from``, ``--resume``
   and ``init_cfg`` checkpoint of the process goes through them. Why: torch >= 2.6 unpickles with
   ``weights_only=True`` by default, which refuses what mmengine checkpoints hold (``HistoryBuffer``
   and numpy objects in ``message_hub``), so a stock mmengine ``--resume`` breaks. mmdat's loaders
   keep ``weights_only=True`` and allowlist exactly those objects; a pickle that would run code is
   still refused, with an error naming the file, and its code does not run
   (``mmdat.utils.checkpoint``). To keep mmengine's own loaders, set ``MMDAT_KEEP_MMENGINE_LOADERS=1``
   before importing mmdat.
3. Where mmcv's ``adjust_hue`` fails on numpy 2 for a negative hue factor (mmcv 2.1; it breaks every
   ``ColorJitter`` with ``hue > 0``, e.g. in mmpretrain's MoCo v3, SimCLR and SimSiam pipelines), it
   puts a working one in its place, with the shift numpy 1 gave (``mmdat.utils.mmcv_fixes``).
"""
import os

from .utils.version_check import check_versions
from .version import __version__

check_versions()

if os.environ.get('MMDAT_KEEP_MMENGINE_LOADERS', '') in ('', '0'):
    from .utils.checkpoint import register_safe_checkpoint_loaders

    register_safe_checkpoint_loaders()

from .utils.mmcv_fixes import patch_adjust_hue  # noqa: E402

patch_adjust_hue()

__all__ = ['__version__']

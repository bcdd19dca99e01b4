"""Safe checkpoint loading for torch >= 2.6.

torch now unpickles with ``weights_only=True``, which refuses what mmengine writes into its checkpoints
(``HistoryBuffer``, numpy arrays and scalars), so ``--resume`` and ``load_from`` break. mmdat keeps
``weights_only=True`` and allowlists exactly those types. A file whose pickle refers to anything else
(for example a function that would run code) is refused before any of it executes.
"""
import hashlib
import os
import os.path as osp
import pickle
import tempfile
import zipfile
from typing import Any, Callable, List, Tuple, Union
from urllib.error import URLError
from urllib.parse import parse_qs, urlparse

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader

SafeGlobal = Union[Callable, Tuple[Callable, str]]


class CheckpointLoadError(RuntimeError):
    """A checkpoint could not be loaded; the message names the file and the reason."""


class UnsafeCheckpointError(CheckpointLoadError):
    """A checkpoint's pickle refers to objects outside mmdat's allowlist; nothing of it was run."""


def _history_buffer_statistic(owner: Any, name: str) -> Any:
    """Stands in for ``getattr`` when unpickling: mmengine's ``HistoryBuffer`` pickles its statistics
    methods (``mean``, ``min``, ...) as ``getattr(HistoryBuffer, name)``. Only those are allowed."""
    is_buffer = owner is HistoryBuffer or isinstance(owner, HistoryBuffer)
    statistics = {'min', 'max', 'mean', 'current', *HistoryBuffer._statistics_methods}
    if not is_buffer or name not in statistics:
        raise pickle.UnpicklingError(f'getattr({owner!r}, {name!r}) is not allowed in a checkpoint')
    return getattr(owner, name)


def trusted_checkpoint_globals() -> List[SafeGlobal]:
    """The non-tensor types that mmengine checkpoints hold, for ``torch.serialization.safe_globals``."""
    multiarray = np._core.multiarray  # numpy >= 2; pickles written by numpy 1.x name numpy.core
    trusted: List[SafeGlobal] = [
        HistoryBuffer,
        (_history_buffer_statistic, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
        multiarray._reconstruct,
        multiarray.scalar,
        (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
        (multiarray.scalar, 'numpy.core.multiarray.scalar'),
    ]
    trusted += [getattr(np.dtypes, name) for name in np.dtypes.__all__]
    return trusted


def _is_archive(path: str) -> bool:
    """True for a zip archive that is not itself a torch checkpoint (e.g. ldm's ``vq-f8.zip``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return not any(name.endswith('data.pkl') for name in archive.namelist())


def _extract_checkpoint(archive_path: str) -> str:
    """Extract the single ``*.ckpt``/``*.pth``/``*.pt`` member of an archive next to it."""
    with zipfile.ZipFile(archive_path) as archive:
        members = [n for n in archive.namelist() if n.endswith(('.ckpt', '.pth', '.pt'))]
        if len(members) != 1:
            raise CheckpointLoadError(
                f'{archive_path} is a zip archive; expected exactly one .ckpt/.pth/.pt file in it, '
                f'found {members or "none"}')
        target_dir = osp.splitext(archive_path)[0]
        target = osp.join(target_dir, members[0])
        if not osp.isfile(target):
            archive.extract(members[0], target_dir)
    return target


def load_checkpoint_file(filename: str, map_location: Any = 'cpu') -> Any:
    """Load a local checkpoint with ``weights_only=True`` and mmdat's allowlist.

    Args:
        filename (str): path to a ``.pth``/``.ckpt`` file, or a zip archive holding one.
        map_location: as in :func:`torch.load`. Defaults to ``'cpu'``.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the pickle refers to a type outside the allowlist.
        CheckpointLoadError: the file is not a readable checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    if _is_archive(filename):
        filename = _extract_checkpoint(filename)
    try:
        with torch.serialization.safe_globals(trusted_checkpoint_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        boilerplate = ('Weights only load failed', 'Check the documentation', 'Please file an issue')
        detail = next((line for line in lines if not line.startswith(boilerplate)), lines[0])
        raise UnsafeCheckpointError(
            f'refusing to load checkpoint {filename}: its pickle refers to an object outside '
            f"mmdat's allowlist of checkpoint types, which could run code ({detail.strip()}). "
            'Only load files you trust; re-save trusted weights as a plain state_dict.') from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointLoadError(f'{filename} is not a readable torch checkpoint: {err}') from err


def cached_path_for_url(url: str) -> str:
    """Where a URL's checkpoint is cached: ``$TORCH_HOME/hub/checkpoints/<file name>``. The name is the
    URL path's last part or, for download links like ``.../files/?p=%2Fckpts%2Flast.ckpt&dl=1``, the
    file named in the query, prefixed with a hash of the URL so that two such links do not collide."""
    parsed = urlparse(url)
    name = osp.basename(parsed.path)
    if not osp.splitext(name)[1]:
        named = [osp.basename(value) for values in parse_qs(parsed.query).values() for value in values
                 if osp.splitext(value)[1]]
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        name = f'{digest}-{named[0] if named else "checkpoint.pth"}'
    return osp.join(torch.hub.get_dir(), 'checkpoints', name)


def _download(url: str, destination: str) -> None:
    os.makedirs(osp.dirname(destination), exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=osp.dirname(destination), suffix='.partial')
    os.close(handle)
    try:
        torch.hub.download_url_to_file(url, partial, progress=True)
        os.replace(partial, destination)
    except (URLError, OSError, ValueError) as err:
        raise CheckpointLoadError(
            f'could not download checkpoint {url} ({err}). If this machine is offline, download it '
            f'elsewhere and put it at {destination}, or pass its local path instead of the URL.'
        ) from None
    finally:
        if osp.exists(partial):
            os.remove(partial)


def load_checkpoint_url(url: str, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint by URL: from the torch hub cache if present, otherwise downloaded on local
    rank 0 first. Loading is as safe as :func:`load_checkpoint_file`."""
    destination = cached_path_for_url(url)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(destination):
        _download(url, destination)
    if world_size > 1:
        torch.distributed.barrier()
        if not osp.isfile(destination):
            _download(url, destination)
    return load_checkpoint_file(destination, map_location)


def register_safe_checkpoint_loaders() -> None:
    """Route mmengine's local and http(s) checkpoint schemes through the safe loaders above."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_checkpoint_url, force=True)


def check_checkpoint_fits(model: torch.nn.Module, filename: str) -> None:
    """Raise :class:`CheckpointLoadError` naming ``filename`` unless its state dict matches
    ``model``'s keys and shapes exactly (what a strict load needs), before any work is done."""
    if not osp.isfile(osp.expanduser(filename)):
        raise CheckpointLoadError(f'checkpoint file not found: {filename}')
    try:
        checkpoint = load_checkpoint_file(filename)
    except Exception as err:  # a truncated or foreign file: say which and why, in one line
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointLoadError(f'{filename} is not a readable checkpoint: {first_line}') from None
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise CheckpointLoadError(f'{filename} holds no state dict (got {type(checkpoint).__name__})')
    state_dict = {key[len('module.'):] if key.startswith('module.') else key: value
                  for key, value in state_dict.items()}
    mismatch = describe_mismatch(state_dict, model.state_dict())
    if mismatch:
        raise CheckpointLoadError(f'{filename} does not fit the model of the config: {mismatch}')


def describe_mismatch(state_dict: dict, expected: dict, shown: int = 3) -> str:
    """What keeps ``state_dict`` from loading strictly into a model whose state dict is ``expected``
    (missing, unexpected and mis-shaped keys, ``shown`` of each named), or ``''`` when it fits. The
    one description of a key mismatch in mmdat (model checkpoints and discretizers)."""
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(f'{key} {tuple(state_dict[key].shape)} in the file vs '
                        f'{tuple(expected[key].shape)} in the model'
                        for key in set(expected) & set(state_dict)
                        if hasattr(state_dict[key], 'shape')
                        and tuple(state_dict[key].shape) != tuple(expected[key].shape))
    return '; '.join(f'{len(keys)} {kind} keys: {name_keys(keys, shown)}' for kind, keys in (
        ('missing', missing), ('unexpected', unexpected), ('shape-mismatched', mismatched)) if keys)


def name_keys(keys: List[str], shown: int = 3) -> str:
    """The first ``shown`` of ``keys`` and how many more, for an error message."""
    return ', '.join(keys[:shown]) + (f' (+{len(keys) - shown} more)' if len(keys) > shown else '')

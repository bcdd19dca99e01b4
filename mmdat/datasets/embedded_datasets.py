"""Generate-if-missing for the embedded dataset, safe when several processes start at once.

The dataset wrappers (``EmbeddedCocoDataset``, ``EmbeddedClsDataset``) call
:func:`prepare_embedded_dataset` before loading annotations. The first process takes a lock
file next to ``root``, generates into a temporary sibling directory and renames it to ``root``
in one step; the others wait on the lock and then find the complete dataset.
"""
import os
import shutil
import tempfile

from filelock import FileLock

from .embedded import SETTINGS_FILE, generate_embedded_dataset, read_settings, resolve_settings


def prepare_embedded_dataset(root: str, task: str, seed: int = 0, num_train: int | None = None,
                             num_val: int | None = None, image_size: int | None = None,
                             show_progress: bool = True) -> dict:
    """Make sure ``root`` holds the embedded dataset with these settings, generating it if absent.

    Args:
        root (str): Dataset directory, e.g. ``'data/embedded_det/'``.
        task (str): ``'det'`` or ``'cls'``.
        seed (int): Random seed. Defaults to 0.
        num_train (int, optional): Training images; ``None`` takes the task default.
        num_val (int, optional): Validation images; ``None`` takes the task default.
        image_size (int, optional): Square image side in pixels; ``None`` takes the default.
        show_progress (bool): Print a progress bar while generating. Defaults to True.

    Returns:
        dict: The settings of the dataset in ``root``.

    Raises:
        FileExistsError: ``root`` exists but holds no complete embedded dataset.
        ValueError: ``root`` holds an embedded dataset generated with other settings.
    """
    settings = resolve_settings(task, seed, num_train, num_val, image_size)
    root = os.path.abspath(root)
    if not os.path.exists(root):
        parent = os.path.dirname(root)
        os.makedirs(parent, exist_ok=True)
        with FileLock(f'{root}.lock'):
            if not os.path.exists(root):
                staging = tempfile.mkdtemp(prefix=f'{os.path.basename(root)}.tmp-', dir=parent)
                try:
                    generate_embedded_dataset(staging, show_progress=show_progress,
                                              **_generator_arguments(settings))
                    os.chmod(staging, 0o755)  # mkdtemp made it private
                    os.rename(staging, root)
                except BaseException:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise
    existing = read_settings(root)
    if existing is None:
        raise FileExistsError(
            f'{root} exists but holds no complete embedded dataset (no {SETTINGS_FILE}); delete '
            'it to have it generated again')
    if existing != settings:
        raise ValueError(
            f'{root} holds an embedded dataset generated with {existing}, but {settings} was '
            'asked for; delete the directory or point data_root elsewhere')
    return settings


def _generator_arguments(settings: dict) -> dict:
    return {key: settings[key] for key in ('task', 'seed', 'num_train', 'num_val', 'image_size')}

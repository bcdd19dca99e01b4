from .checkpoint import (CheckpointLoadError, UnsafeCheckpointError, describe_mismatch, load_checkpoint_file,
                         load_checkpoint_url, register_safe_checkpoint_loaders)
from .version_check import check_versions

__all__ = [
    'CheckpointLoadError', 'UnsafeCheckpointError', 'describe_mismatch', 'load_checkpoint_file',
    'load_checkpoint_url', 'register_safe_checkpoint_loaders', 'check_versions'
]

"""Checkpoints load with weights_only=True and an explicit allowlist; code in a pickle never runs."""
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import CheckpointLoader

from mmdat.utils import UnsafeCheckpointError, load_checkpoint_file


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_checkpoint_with_code_is_refused_and_the_code_does_not_run(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'payload': _RunsCode(marker)}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth.*posix.system|evil\.pth.*system'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


def test_plain_pickle_with_code_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pkl'
    with open(path, 'wb') as f:
        pickle.dump(_RunsCode(marker), f)
    with pytest.raises(UnsafeCheckpointError, match='evil.pkl'):
        load_checkpoint_file(str(path))
    assert not marker.exists()


def test_mmengine_checkpoint_contents_load(tmp_path):
    hub = MessageHub.get_instance('checkpoint-test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_info('seed', np.int64(3))
    state = {'meta': {'seed': 3, 'np_scalar': np.float64(0.5), 'array': np.arange(4)},
             'message_hub': hub.state_dict(), 'state_dict': {'w': torch.ones(2)},
             'buffer': HistoryBuffer([1.0, 2.0], [1, 1])}
    path = tmp_path / 'ok.pth'
    torch.save(state, path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert loaded['meta']['np_scalar'] == 0.5
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 1.5
    assert np.array_equal(loaded['meta']['array'], np.arange(4))


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nope.pth'))


def test_offline_url_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with pytest.raises(Exception, match=r'put it at .*checkpoints.*vq\.ckpt'):
        CheckpointLoader.load_checkpoint('http://127.0.0.1:9/vq.ckpt')


class _ReachesForAttribute:

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_allowed_only_for_history_buffer_statistics(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'x': _ReachesForAttribute()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"getattr\(.*'__init__'\) is not allowed"):
        load_checkpoint_file(str(path))


def test_download_links_get_a_file_name_in_the_cache(tmp_path, monkeypatch):
    from mmdat.utils.checkpoint import cached_path_for_url
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    plain = cached_path_for_url('https://ommer-lab.com/files/latent-diffusion/vq-f8.zip')
    link = cached_path_for_url('https://heibox.uni-heidelberg.de/d/a753/files/?p=%2Fckpts%2Flast.ckpt&dl=1')
    assert plain.endswith('checkpoints/vq-f8.zip')
    assert link.endswith('-last.ckpt') and osp.dirname(link) == osp.dirname(plain)


@pytest.mark.parametrize('keep_mmengine', [False, True], ids=['mmdat-loaders', 'opted-out'])
def test_importing_mmdat_keeps_stock_and_mmdat_checkpoints_loading(tmp_path, keep_mmengine):
    """In a fresh process: a stock mmengine checkpoint (message hub included) and an mmdat one load
    through mmengine's CheckpointLoader; with mmdat's loaders a code-executing pickle is refused
    and its code does not run; ``MMDAT_KEEP_MMENGINE_LOADERS=1`` leaves mmengine's loader in place."""
    import subprocess
    import sys
    hub = MessageHub.get_instance('stock_checkpoint')
    hub.update_scalar('train/loss', 1.0)
    torch.save({'meta': {'epoch': 1}, 'state_dict': {'w': torch.ones(2)},
                'message_hub': hub.state_dict()}, tmp_path / 'stock.pth')
    torch.save({'w': torch.ones(2)}, tmp_path / 'mmdat.pth')
    torch.save({'payload': _RunsCode(tmp_path / 'pwned')}, tmp_path / 'evil.pth')
    script = f'''
import mmdat
from mmengine.runner import CheckpointLoader
from mmdat.utils.checkpoint import load_checkpoint_file
print('mmdat loader' if CheckpointLoader._schemes[''] is load_checkpoint_file else 'mmengine loader')
assert CheckpointLoader.load_checkpoint({str(tmp_path / 'mmdat.pth')!r})['w'].sum() == 2
try:
    stock = CheckpointLoader.load_checkpoint({str(tmp_path / 'stock.pth')!r})
    print('stock loads', stock['meta']['epoch'])
except Exception as err:
    print('stock refused', type(err).__name__)
try:
    CheckpointLoader.load_checkpoint({str(tmp_path / 'evil.pth')!r})
except Exception as err:
    print('evil refused', type(err).__name__)
'''
    env = dict(os.environ, MMDAT_KEEP_MMENGINE_LOADERS='1' if keep_mmengine else '0')
    output = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True,
                            timeout=300).stdout
    if keep_mmengine:
        assert 'mmengine loader' in output
    else:
        assert 'mmdat loader' in output and 'stock loads 1' in output
        assert 'evil refused UnsafeCheckpointError' in output and not (tmp_path / 'pwned').exists()

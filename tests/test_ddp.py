"""Two-process gloo DDP on the CPU: DAT trains and every rank ends with identical parameters."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize('train_on', ['clean+adv', 'separate'])
def test_two_process_ddp_keeps_ranks_identical(tmp_path, train_on):
    config = osp.join(REPO_ROOT, 'tests', 'configs', 'yolov3_tiny_embedded_dat_ddp.py')
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([REPO_ROOT, osp.join(REPO_ROOT, 'tests')]))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           f'--master_port={free_port()}',
           osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--launcher', 'pytorch',
           '--work-dir', str(tmp_path / 'work'), '--cfg-options',
           f'model.data_preprocessor.dat.train_on={train_on}']
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    rank0 = torch.load(tmp_path / 'work' / 'params_rank0.pt')
    rank1 = torch.load(tmp_path / 'work' / 'params_rank1.pt')
    assert torch.equal(rank0, rank1)
    assert 'dat/loss_xhat' in proc.stdout + proc.stderr


def test_two_process_ddp_keeps_efficientdet_ranks_identical(tmp_path):
    """EfficientDet's loss averages its normaliser over ranks (a collective inside the attack)."""
    config = osp.join(REPO_ROOT, 'tests', 'configs', 'efficientdet_tiny_embedded_dat_ddp.py')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable, PORT=str(free_port()),
               PYTHONPATH=osp.join(REPO_ROOT, 'tests'))
    cmd = ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config, '2',
           '--work-dir', str(tmp_path / 'work')]  # the documented launcher script
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    rank0 = torch.load(tmp_path / 'work' / 'params_rank0.pt')
    rank1 = torch.load(tmp_path / 'work' / 'params_rank1.pt')
    assert torch.equal(rank0, rank1)
    assert 'dat/loss_xhat' in proc.stdout + proc.stderr

"""DATHook refuses set-ups the attack cannot run under, with a message that says what to do."""
from types import SimpleNamespace

import pytest
import torch.distributed as dist
from conftest import IDENTITY_DAT, build_det_model
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel

from mmdat.engine.hooks import DATHook


def runner_with(model, **cfg):
    """The few runner attributes DATHook reads, around a real model."""
    return SimpleNamespace(model=model, cfg=Config(cfg), hooks=[], optim_wrapper=None)


def test_sharding_strategies_are_refused():
    model = build_det_model(IDENTITY_DAT)
    with pytest.raises(RuntimeError, match='unsharded model.*DistributedDataParallel'):
        DATHook().before_train(runner_with(model, strategy=dict(type='FSDPStrategy')))


def test_static_graph_ddp_is_refused_for_the_local_clean_backward(tmp_path):
    model = build_det_model(dict(IDENTITY_DAT, train_on='separate'))
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    try:
        wrapped = MMDistributedDataParallel(model, static_graph=True)
        with pytest.raises(RuntimeError, match='static_graph'):
            DATHook().before_train(runner_with(wrapped))
    finally:
        dist.destroy_process_group()


def test_a_stock_preprocessor_is_refused_with_the_type_to_use():
    model = build_det_model(None)
    model.data_preprocessor = DetDataPreprocessor()
    with pytest.raises(TypeError, match='mmdat.DATDataPreprocessor'):
        DATHook().before_train(runner_with(model))

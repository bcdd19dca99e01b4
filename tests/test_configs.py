"""Every shipped config parses (mmdet:: and mmpretrain:: bases included) and builds its model."""
import glob
import os.path as osp

import pytest
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope, init_default_scope

from mmdat.models.data_preprocessors import DATPreprocessorMixin

CONFIGS = sorted(p for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(REPO_ROOT, 'configs')))
def test_config_builds_its_model(path):
    cfg = Config.fromfile(path)
    DefaultScope._instance_dict.clear()
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:  # what the runner does for mmpretrain configs
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    is_dat = osp.basename(osp.dirname(path)) == 'dat'
    assert isinstance(model.data_preprocessor, DATPreprocessorMixin) == is_dat
    if is_dat:
        assert model.data_preprocessor.dat_enabled
        assert any(hook['type'] == 'mmdat.DATHook' for hook in cfg.custom_hooks)

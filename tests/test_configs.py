"""Every shipped config parses (mmdet:: and mmpretrain:: bases included) and builds its model; every DAT
config is its normal twin plus the DAT lines; the paper configs share one DAT block."""
import argparse
import ast
import copy
import glob
import os.path as osp
import re
from typing import List, Optional

import pytest
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope, init_default_scope

from mmdat.apis import add_common_arguments
from mmdat.models.data_preprocessors import DATPreprocessorMixin

CONFIG_ROOT = osp.join(REPO_ROOT, 'configs')
CONFIGS = sorted(p for p in glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)
                 if '_base_' not in p)
# DAT configs are named `<model>_dat_...` or `<model>_dat-<mode>_...`, in configs/dat/ or beside their twin
DAT_CONFIGS = [p for p in CONFIGS if re.search(r'_dat[_-]', osp.basename(p))]
PAPER_DAT = Config.fromfile(osp.join(CONFIG_ROOT, '_base_', 'dat', 'dat_openimages_f8_16384.py')).dat
# the self-supervised twins take it with train_on='separate' (view lists refuse 'clean+adv')
PAPER_SELFSUP_DAT = Config.fromfile(
    osp.join(CONFIG_ROOT, '_base_', 'dat', 'dat_openimages_f8_16384_selfsup.py')).dat
PAPER_PRESET = PAPER_DAT['discretizer']['preset']
# What a user types to try a paper config without the f8-16384 weights: a tiny VQGAN, random init.
TINY_DISCRETIZER_OPTIONS = ['{dat}.discretizer.preset=embedded-tiny-f8-512',
                            '{dat}.discretizer.checkpoint=None']
# ViT-H/14 has 632M parameters (13 s and 3.4 GB to build on two cores): the test builds it at DeiT-tiny
# width instead, typed as a user would; everything else about the config is built as shipped.
SHRUNK_ARCHS = {'huge': ['model.backbone.arch=deit-tiny', 'model.head.in_channels=192']}


def config_id(path: str) -> str:
    return osp.relpath(path, CONFIG_ROOT)


def apply_cfg_options(cfg: Config, options: List[str]) -> None:
    """Merge ``options`` the way ``tools/train.py --cfg-options ...`` does."""
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)


def dat_key(cfg: Config) -> Optional[str]:
    """Where the config keeps its ``dat`` block: mmdet in the model, mmpretrain at the top level."""
    if cfg.model.get('data_preprocessor', {}).get('dat') is not None:
        return 'model.data_preprocessor.dat'
    if (cfg.get('data_preprocessor') or {}).get('dat') is not None:
        return 'data_preprocessor.dat'
    return None


def lookup(cfg: Config, dotted: str):
    value = cfg
    for key in dotted.split('.'):
        value = value[key]
    return value


def twin_of(path: str) -> str:
    """The first ``_base_`` entry of a DAT config: its normal twin."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    bases = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and any(getattr(target, 'id', None) == '_base_' for target in node.targets))
    bases = [bases] if isinstance(bases, str) else bases
    return osp.normpath(osp.join(osp.dirname(path), bases[0]))


def without_dat(cfg: Config) -> dict:
    """The config minus what a DAT config may change: preprocessor type and ``dat``, hooks, imports."""
    cfg_dict = copy.deepcopy(cfg.to_dict())
    for key in ('dat', 'custom_hooks', 'custom_imports'):
        cfg_dict.pop(key, None)
    for owner in (cfg_dict, cfg_dict['model']):
        preprocessor = owner.get('data_preprocessor')
        if preprocessor is not None:
            preprocessor.pop('type', None)
            preprocessor.pop('dat', None)
            if not preprocessor:  # the twin's preprocessor comes from the model (EfficientDet)
                owner.pop('data_preprocessor')
    return cfg_dict


def without_scope(hooks: list) -> list:
    """Hooks without the ``_scope_`` that mmengine adds to those of ``mmdet::``/``mmpretrain::`` bases."""
    return [{k: v for k, v in hook.items() if k != '_scope_'} for hook in hooks]


@pytest.mark.parametrize('path', CONFIGS, ids=config_id)
def test_config_builds_its_model(path):
    cfg = Config.fromfile(path)
    key = dat_key(cfg)
    is_paper = key is not None and lookup(cfg, key).discretizer.get('preset') == PAPER_PRESET
    options = []
    if is_paper:
        assert lookup(cfg, key).to_dict() in (PAPER_DAT.to_dict(), PAPER_SELFSUP_DAT.to_dict()), \
            f'{config_id(path)} uses the paper preset: take its dat block from ../_base_/dat/'
        assert PAPER_SELFSUP_DAT.to_dict() == dict(PAPER_DAT.to_dict(), train_on='separate')
        options += [option.format(dat=key) for option in TINY_DISCRETIZER_OPTIONS]
    arch = cfg.model.get('backbone', {}).get('arch')
    if isinstance(arch, str):
        options += SHRUNK_ARCHS.get(arch, [])
    if options:
        apply_cfg_options(cfg, options)
    DefaultScope._instance_dict.clear()
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:  # what the runner does for mmpretrain configs
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    is_dat = path in DAT_CONFIGS
    assert isinstance(model.data_preprocessor, DATPreprocessorMixin) == is_dat
    if is_dat:
        assert model.data_preprocessor.dat_enabled
        assert any(hook['type'] == 'mmdat.DATHook' for hook in cfg.custom_hooks)
    if is_paper:  # the override reached the discretizer; its random network is built lazily
        discretizer = model.data_preprocessor.discretizer
        assert (discretizer.preset, discretizer.checkpoint, discretizer.num_codes) == \
            ('embedded-tiny-f8-512', None, 512)


@pytest.mark.parametrize('path', DAT_CONFIGS, ids=config_id)
def test_dat_config_is_its_twin_plus_the_dat_lines(path):
    twin_path = twin_of(path)
    assert osp.basename(osp.dirname(twin_path)) != 'dat' and twin_path in CONFIGS, \
        f'{config_id(path)} should inherit its normal twin first, not {twin_path}'
    cfg, twin = Config.fromfile(path), Config.fromfile(twin_path)
    assert without_dat(cfg) == without_dat(twin)
    hooks, twin_hooks = (without_scope(c.get('custom_hooks', [])) for c in (cfg, twin))
    assert [hook for hook in hooks if hook['type'] != 'mmdat.DATHook'] == twin_hooks
    assert [hook['type'] for hook in hooks].count('mmdat.DATHook') == 1
    assert 'mmdat' in cfg.custom_imports['imports']

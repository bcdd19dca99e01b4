"""Turn the mmdet-style train/test CLI arguments into an mmengine Runner (used by tools/)."""
import argparse
import os.path as osp
import sys
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmdat  # noqa: F401  (version checks, safe checkpoint loaders)


class ConfigError(ValueError):
    """A config or command-line setting that cannot work."""


def _apply_train_args(cfg: Config, args: argparse.Namespace) -> None:
    if args.amp:
        if not torch.cuda.is_available():
            raise ConfigError('--amp needs a GPU: mmengine\'s AmpOptimWrapper refuses to run on the CPU')
        optim_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_type != 'AmpOptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise ConfigError('--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume


def _apply_test_args(cfg: Config, args: argparse.Namespace) -> None:
    if not osp.isfile(osp.expanduser(args.checkpoint)) and '://' not in args.checkpoint:
        raise ConfigError(f'checkpoint file not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ConfigError(f'--out must be a .pkl or .pickle file, but got {args.out}')
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dump]


def build_runner_from_args(args: argparse.Namespace, training: bool) -> Runner:
    """Load ``args.config``, apply the CLI overrides and build the runner it asks for."""
    if not osp.isfile(args.config):
        raise ConfigError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if training:
        _apply_train_args(cfg, args)
    else:
        _apply_test_args(cfg, args)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


@contextmanager
def readable_errors() -> Iterator[None]:
    """Print one readable line for common configuration mistakes, then let the traceback follow."""
    try:
        yield
    except ConfigError as err:
        print(f'mmdat: error: {err}', file=sys.stderr)
        raise SystemExit(2) from None
    except KeyError as err:
        message = str(err.args[0]) if err.args else str(err)
        if 'registry' in message:
            first = message.splitlines()[0]
            print(f'mmdat: error: unknown component type in the config: {first}', file=sys.stderr)
        raise
    except FileNotFoundError as err:
        print(f'mmdat: error: file not found: {err}', file=sys.stderr)
        raise

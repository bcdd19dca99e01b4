"""Turn the mmdet-style train/test CLI arguments into an mmengine Runner (used by tools/)."""
import argparse
import datetime
import os
import os.path as osp
import sys
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner
from torch.nn.parallel import DistributedDataParallel

import mmdat  # noqa: F401  (version checks, safe checkpoint loaders)
from mmdat.evaluation.robustness.benchmark import RobustnessError
from mmdat.utils.checkpoint import CheckpointLoadError


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments tools/train.py and tools/test.py share (after their positional ones)."""
    parser.add_argument('--work-dir', help='the dir to save logs, models and evaluation results')
    add_launch_arguments(parser)


def add_evaluation_arguments(parser: argparse.ArgumentParser, outputs: str) -> None:
    """The arguments of the robustness tools (test_robustness.py, test_adversarial.py) after their
    ``config checkpoint``: ``--out`` (for ``outputs``), the image subset, workers, seed, launch."""
    parser.add_argument('--out', required=True, help=f'directory for {outputs}')
    parser.add_argument('--num-images', type=int, help='evaluate the first N images only')
    parser.add_argument('--workers', type=int, default=2,
                        help='dataloader workers (they prepare images while the model runs)')
    parser.add_argument('--seed', type=int, default=0, help='base seed of the random draws')
    add_launch_arguments(parser)


def check_evaluation_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any work, the evaluation arguments that cannot work."""
    if args.num_images is not None and args.num_images < 1:
        raise ConfigError(f'--num-images must be >= 1, but got {args.num_images}')
    if not osp.isfile(args.checkpoint):
        raise ConfigError(f'checkpoint file not found: {args.checkpoint}')


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank``, as in mmdet's tools, and ``--debug``."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. train_cfg.max_iters=10')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_debug_argument(parser)


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export LOCAL_RANK for launchers that pass it as an argument."""
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


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
            raise ConfigError('--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size=...)` '
                              'in the config')
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


def _prepare_cpu_distributed(cfg: Config) -> None:
    """Let ``--launcher pytorch`` run on CPU-only machines (gloo).

    mmengine 0.10.7's pytorch launcher calls ``torch.cuda.set_device`` and wraps the model with
    ``device_ids=[LOCAL_RANK]``, both of which fail without a GPU. Here the process group is initialised
    with gloo first (the runner then skips its own initialisation) and DDP is built without device ids.
    """
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'gloo')
    if backend == 'nccl':
        print('mmdat: no GPU found; using the gloo backend instead of nccl', file=sys.stderr)
        backend = 'gloo'
    dist_cfg.pop('init_backend', None)
    if 'timeout' in dist_cfg:
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, **dist_cfg)
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                                     find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper = MODEL_WRAPPERS.get(cfg.model_wrapper_cfg.get('type', 'MMDistributedDataParallel'))
    if isinstance(wrapper, type) and issubclass(wrapper, DistributedDataParallel):
        cfg.model_wrapper_cfg.setdefault('device_ids', None)  # CPU modules take no device ids


def load_tool_config(path: str, cfg_options: Optional[dict] = None,
                     launcher: str = 'none') -> Config:
    """Load a config for a tool: ``--cfg-options`` merged, the launcher set, and on a CPU-only
    machine with ``--launcher pytorch`` the gloo process group initialised."""
    if not osp.isfile(path):
        raise ConfigError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if launcher == 'pytorch' and not torch.cuda.is_available():
        _prepare_cpu_distributed(cfg)
    return cfg


def build_model(cfg: Config, checkpoint: Optional[str] = None) -> torch.nn.Module:
    """The config's model in its default scope (mmpretrain's top-level ``data_preprocessor``
    included), on the CPU, with ``checkpoint`` loaded strictly when given."""
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None and 'data_preprocessor' not in model_cfg:
        model_cfg.data_preprocessor = cfg.data_preprocessor
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model


def build_runner_from_args(args: argparse.Namespace, training: bool) -> Runner:
    """Load ``args.config``, apply the CLI overrides and build the runner it asks for."""
    cfg = load_tool_config(args.config, args.cfg_options, args.launcher)
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


#: environment variable that makes the tools show the traceback of an error they report in one line
DEBUG_ENV = 'MMDAT_DEBUG'
#: the errors a bad input raises: a tool reports them in one line
INPUT_ERRORS = (ConfigError, RobustnessError, CheckpointLoadError, ValueError, KeyError, TypeError,
                FileNotFoundError, NotImplementedError)


class _DebugAction(argparse.Action):
    """``--debug``: show the traceback of a reported error (sets ``MMDAT_DEBUG``)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        os.environ[DEBUG_ENV] = '1'
        setattr(namespace, self.dest, True)


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """``--debug``: a reported error also shows its traceback."""
    parser.add_argument('--debug', action=_DebugAction,
                        help=f'show the traceback of an error (or set {DEBUG_ENV}=1)')


def error_line(err: BaseException) -> str:
    """The message of ``err`` on one line (a KeyError's without the quotes repr adds)."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else err
    return ' '.join(str(message).split()) or type(err).__name__


@contextmanager
def readable_errors() -> Iterator[None]:
    """Report an error of a bad input (a config value, a file, a checkpoint) as one
    ``mmdat: error:`` line and a hint, and exit with status 2, without a traceback. With
    ``--debug`` or ``MMDAT_DEBUG=1`` the traceback follows as usual."""
    try:
        yield
    except INPUT_ERRORS as err:
        if os.environ.get(DEBUG_ENV, '') not in ('', '0'):
            raise
        message = error_line(err)
        print(f'mmdat: error: {message}', file=sys.stderr)
        if 'registry' in message:
            print("mmdat: hint: check the type's spelling, its scope prefix ('mmdat.', 'mmdet.') "
                  "and the config's custom_imports", file=sys.stderr)
        print(f'mmdat: run again with --debug (or {DEBUG_ENV}=1) to see where it was raised',
              file=sys.stderr)
        raise SystemExit(2) from None

"""Named training and evaluation steps of an experiment (``tools/demo.py``, ``tools/study_efficacy.py``).

Each step runs one of the repository's tools in a subprocess, its output streamed, and is skipped when
its result exists, so a re-run reuses trained checkpoints and finished robustness cells. The time of
every step that ran is kept in ``<work_dir>/timings.json``.
"""
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, Iterable, Optional, Sequence


def eps_options(eps: float, prefix: str = 'model.data_preprocessor.dat') -> tuple:
    """``--cfg-options`` that set a DAT config's attack strength (eps and step size) to ``eps``; ``prefix``
    is where its ``dat`` block lies (:func:`dat_block`; the default is a detector's). At 0 this is the
    ablation x_adv = Q(x): next to the normal and the DAT run it separates what the attack adds from what
    Q(x) and the second batch add."""
    return (f'{prefix}.attack.eps={float(eps)}', f'{prefix}.attack.step_size={float(eps)}')


def stretched_schedule(config: str, factor: int) -> tuple:
    """``--cfg-options`` that stretch ``config``'s epoch-based learning-rate schedule over ``factor``
    times its epochs: each epoch-based scheduler's ``begin``, ``end``, ``T_max`` and ``milestones`` are
    multiplied, an iteration-based warm-up is kept. With ``train_cfg.max_epochs`` multiplied as well,
    a normal run sees as many images as a DAT run that trains on ``factor`` batches per step."""
    from mmengine.config import Config
    options = []
    for i, scheduler in enumerate(Config.fromfile(config).get('param_scheduler', [])):
        if not scheduler.get('by_epoch', True):
            continue
        options += [f'param_scheduler.{i}.{key}={scheduler[key] * factor}'
                    for key in ('begin', 'end', 'T_max') if key in scheduler]
        if 'milestones' in scheduler:
            options.append(f'param_scheduler.{i}.milestones='
                           f"[{','.join(str(m * factor) for m in scheduler['milestones'])}]")
    return tuple(options)


#: DAT's documented knobs a study may tune, and where each lives: the preprocessor's ``dat`` block, its
#: attack (a name of :mod:`mmdat.models.attacks.names`, e.g. ``codeflip-0.05``), its discretizer (the
#: name of a preset mmdat ships, with its shipped weights, e.g. ``embedded-small-f4-4096``) or the
#: ``DATHook`` (warm-up: ``begin_iter``, ``warmup_iters``; ``prob``).
DAT_KNOBS = {'train_on': 'preprocessor', 'perturb_at': 'preprocessor', 'bn_mode': 'preprocessor',
             'attack': 'attack', 'discretizer': 'discretizer', 'begin_iter': 'hook', 'warmup_iters': 'hook',
             'prob': 'hook'}


def dat_block(cfg) -> tuple:
    """(``--cfg-options`` key prefix, dict) of a DAT config's ``dat`` block: ``model.data_preprocessor``
    (mmdet) or the top-level ``data_preprocessor`` (mmpretrain)."""
    for prefix, holder in (('model.data_preprocessor', cfg.get('model', {}).get('data_preprocessor')),
                           ('data_preprocessor', cfg.get('data_preprocessor'))):
        if holder and holder.get('dat'):
            return f'{prefix}.dat', holder['dat']
    raise ValueError(f'{cfg.filename} has no DAT preprocessor (a data_preprocessor with a dat block)')


def dat_discretizer(cfg) -> Optional[str]:
    """The preset name of a DAT config's discretizer (None for a custom architecture)."""
    return dat_block(cfg)[1]['discretizer'].get('preset')


def attack_options(cfg, name: str) -> list:
    """``--cfg-options`` that replace a DAT config's attack by the named one; the attacks with their own
    gradient passes also switch ``train_on='fused'`` to ``'separate'``, its objective."""
    from mmdat.models.attacks import attack_config, build_attack
    attack = attack_config(name)
    prefix, dat = dat_block(cfg)
    options = [f'{prefix}.attack._delete_=True']
    options += [f'{prefix}.attack.{key}={value}' for key, value in attack.items() if value is not None]
    if dat.get('train_on') == 'fused' and not build_attack(attack).fused_compatible:
        options.append(f'{prefix}.train_on=separate')
    return options


def discretizer_options(cfg, preset: str) -> list:
    """``--cfg-options`` that replace a DAT config's discretizer by the shipped one of ``preset``."""
    from mmdat.models.discretizers import shipped_checkpoint
    try:
        checkpoint = shipped_checkpoint(preset)
    except KeyError as error:
        raise ValueError(error.args[0]) from None
    prefix = dat_block(cfg)[0]
    return [f'{prefix}.discretizer.preset={preset}', f'{prefix}.discretizer.checkpoint={checkpoint}']


def knob_options(config: str, knobs: Dict[str, str]) -> tuple:
    """``--cfg-options`` that set DAT knobs (names of :data:`DAT_KNOBS`) in the DAT config ``config``;
    the ``DATHook`` is found in its ``custom_hooks``."""
    unknown = sorted(set(knobs) - set(DAT_KNOBS))
    if unknown:
        raise ValueError(f'{unknown} are not DAT knobs; the knobs are {sorted(DAT_KNOBS)}')
    if not knobs:
        return ()
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    options = []
    hook_index = None
    for key, value in knobs.items():
        if DAT_KNOBS[key] == 'preprocessor':
            options.append(f'{dat_block(cfg)[0]}.{key}={value}')
            continue
        if DAT_KNOBS[key] == 'attack':
            options += attack_options(cfg, value)
            continue
        if DAT_KNOBS[key] == 'discretizer':
            options += discretizer_options(cfg, value)
            continue
        if hook_index is None:
            hooks = [str(hook.get('type', '')) for hook in cfg.get('custom_hooks', [])]
            found = [i for i, name in enumerate(hooks) if name.split('.')[-1] == 'DATHook']
            if not found:
                raise ValueError(f"{config} has no DATHook in custom_hooks, so '{key}' has nowhere to go")
            hook_index = found[0]
        options.append(f'custom_hooks.{hook_index}.{key}={value}')
    return tuple(options)


#: the paper's direction (Table 4): mPC and rPC up, clean mAP down by no more than this (mAP, 0-1)
MAX_P_DROP = 0.005


def in_paper_direction(changes: Dict[str, float]) -> bool:
    """Whether ``changes`` (``P``, ``mPC`` and ``rPC`` differences, mAP in 0-1) are the paper's
    direction: mPC and rPC up, clean mAP down by at most :data:`MAX_P_DROP`."""
    return changes['mPC'] > 0 and changes['rPC'] > 0 and changes['P'] >= -MAX_P_DROP


def attack_share_kind(shares: Sequence[float]) -> str:
    """What kind of gain the attack's own share of it says DAT's is, from ``shares`` (DAT − eps 0 in
    mPC, one per seed or run)."""
    mean = statistics.fmean(shares)
    if mean <= 0:
        return 'augmentation (Q(x) and the second batch), not adversarial: the attack adds no mPC'
    if len(shares) == 1:
        return ('not told apart from seed noise: the attack\'s share is positive in one run, with no '
                'spread to weigh it against')
    if mean <= statistics.stdev(shares):
        return 'not told apart from seed noise: the attack\'s share is within one sd of zero'
    return 'adversarial: the attack adds mPC beyond Q(x) and the second batch'


#: What DATHook logs about the attack, reported next to the results.
DAT_STATISTICS = ('dat/loss_clean', 'dat/loss_xhat', 'dat/loss_adv', 'dat/code_flip', 'dat/delta_norm',
                  'dat/adv_distance')


def checkpoint_of(work_dir: str, epochs: int) -> str:
    """The checkpoint ``tools/train.py`` leaves after ``epochs`` epochs."""
    return osp.join(work_dir, f'epoch_{epochs}.pth')


def final_epoch_means(work_dir: str, keys: Iterable[str]) -> Dict[str, float]:
    """The mean of each key over the last epoch's logged training records (``scalars.json``)."""
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as file:
            records += [json.loads(line) for line in file if line.strip()]
    means = {}
    for key in keys:
        logged = [r for r in records if key in r and 'epoch' in r]
        if logged:
            last = max(r['epoch'] for r in logged)
            values = [r[key] for r in logged if r['epoch'] == last]
            means[key] = sum(values) / len(values)
    return means


class Experiment:
    """Runs the steps of an experiment in ``work_dir`` with the tools of the repository at ``root``.

    Args:
        work_dir (str): where the runs, the corruption cache and ``timings.json`` go.
        root (str): the repository (its ``tools/`` are run, relative paths resolve there).
    """

    def __init__(self, work_dir: str, root: str) -> None:
        self.root = root
        self.work_dir = work_dir if osp.isabs(work_dir) else osp.join(root, work_dir)
        os.makedirs(self.work_dir, exist_ok=True)
        self.timings_path = osp.join(self.work_dir, 'timings.json')
        self.timings: Dict[str, float] = {}
        if osp.isfile(self.timings_path):
            with open(self.timings_path) as file:
                self.timings = json.load(file)

    def path(self, *parts: str) -> str:
        return osp.join(self.work_dir, *parts)

    def run(self, step: str, *command: str) -> float:
        """Run ``python <command>`` in the repository and return its wall time in seconds."""
        print(f'\n=== {step} ===', flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, *command], cwd=self.root, check=True)
        seconds = time.perf_counter() - start
        print(f'=== {step}: {seconds:.0f} s ===', flush=True)
        return seconds

    def record(self, step: str, seconds: float) -> None:
        self.timings[step] = seconds
        with open(self.timings_path, 'w') as file:
            json.dump(self.timings, file, indent=1)

    def train(self, step: str, config: str, work_dir: str, epochs: int,
              options: Sequence[str] = ()) -> str:
        """``tools/train.py`` for ``epochs`` epochs (validated and saved once, at the end) unless its
        checkpoint exists; ``options`` are further ``--cfg-options``. Returns the checkpoint."""
        checkpoint = checkpoint_of(work_dir, epochs)
        if osp.isfile(checkpoint):
            print(f'{step}: {checkpoint} exists, not trained again')
            return checkpoint
        self.record(step, self.run(
            step, 'tools/train.py', config, '--work-dir', work_dir, '--cfg-options',
            f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
            f'default_hooks.checkpoint.interval={epochs}', *options))
        return checkpoint

    def adversarial(self, step: str, config: str, checkpoint: str, out: str) -> dict:
        """``tools/test_adversarial.py`` with its default attacks (it resumes finished cells); returns its
        ``adversarial.json``."""
        result = osp.join(out, 'adversarial.json')
        finished = osp.isfile(result)
        seconds = self.run(step, 'tools/test_adversarial.py', config, checkpoint, '--out', out)
        if not finished:
            self.record(step, seconds)
        with open(result) as file:
            return json.load(file)

    def evaluate(self, step: str, config: str, checkpoint: str, out: str, severities: Sequence[str],
                 workers: str = '1', cache_dir: Optional[str] = None) -> dict:
        """``tools/test_robustness.py`` on the 15 benchmark corruptions (it resumes finished cells);
        returns its ``robustness.json``."""
        result = osp.join(out, 'robustness.json')
        finished = osp.isfile(result)
        seconds = self.run(step, 'tools/test_robustness.py', config, checkpoint, '--out', out,
                           '--corruptions', 'benchmark', '--severities', *severities,
                           '--workers', workers,
                           '--cache-dir', cache_dir or self.path('corruption_cache'))
        if not finished:
            self.record(step, seconds)
        with open(result) as file:
            return json.load(file)

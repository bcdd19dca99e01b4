"""Does DAT make a detector more robust beyond seed noise, and is the gain adversarial? Normal, DAT and
the eps-0 ablation, several seeds each, on the embedded benchmark.

For every model, seed and arm: ``tools/train.py`` (``randomness.seed`` set, nothing else changed), then
``tools/test_robustness.py`` on the 15 benchmark corruptions. Finished runs are reused. Written to
``--work-dir``:

- ``study.json``: one row per run (P, mPC, rPC, DAT's statistics over its last epoch);
- ``study.md``: mean ± standard deviation over seeds, the paired differences to normal, the attack's
  own share (DAT − eps 0) and a verdict per model;
- ``study.png``: every seed's P, mPC and rPC per arm.

``--records`` adds the rows of earlier studies' ``study.json`` (runs whose directories are gone, e.g.
``docs/studies/yolov3.json``); a run found in ``--work-dir`` replaces the record of the same model, seed
and arm.

Example::

    python tools/study_efficacy.py --models efficientdet-lite0 --seeds 0 1 2
    python tools/study_efficacy.py --models yolov3 --seeds 0 1 2   # 20 epochs from scratch: hours
    python tools/study_efficacy.py --models yolov3 --records docs/studies/yolov3.json --report-only \
        --arms normal DAT+discretizer=embedded-tiny-f4-4096 DAT-eps0+discretizer=embedded-tiny-f4-4096
"""
import argparse
import functools
import glob
import json
import os.path as osp
import statistics
import sys
from typing import Dict, List, Optional, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from mmdat.apis.experiment import (DAT_KNOBS, DAT_STATISTICS, Experiment, attack_share_kind, dat_block,
                                   dat_discretizer, eps_options, final_epoch_means, in_paper_direction,
                                   knob_options, stretched_schedule)

#: model -> (normal config, DAT config, epochs). The DAT config is the normal one plus DAT, nothing else.
MODELS = {
    'efficientdet-lite0': ('configs/demo/efficientdet-lite0_8xb8-160-8e_embedded.py',
                           'configs/demo/efficientdet-lite0_dat-fused_8xb8-160-8e_embedded.py', 8),
    'yolov3': ('configs/yolov3/yolov3_mobilenetv2_8xb8-160-20e_embedded.py',
               'configs/dat/yolov3_mobilenetv2_dat_8xb8-160-20e_embedded.py', 20),
    'resnet18': ('configs/resnet/resnet18_8xb32-10e_embedded.py',
                 'configs/dat/resnet18_dat_8xb32-10e_embedded.py', 10),
}
#: classifiers: P and mPC are top-1 accuracies (stored in 0-1 like mAP), with mCE and the FGSM / PGD
#: accuracies of ``tools/test_adversarial.py`` (its default budgets) beside them
CLASSIFIERS = ('resnet18', )
#: the default arms; ``DAT-eps<X>`` is the DAT config with the attack's eps and step size set to X
#: (``DAT-eps0``: no attack, x_adv = Q(x)); ``normal-<K>x`` and ``DAT-<K>x`` the normal and the DAT config
#: with the schedule stretched over K times the epochs. DAT trains on two batches per step, so
#: ``normal-2x`` sees as many images as ``DAT``, ``normal-4x`` as many as ``DAT-2x``. A DAT arm followed
#: by ``+<knob>=<value>`` (e.g. ``DAT+train_on=adv``, ``DAT-eps4+bn_mode=eval``,
#: ``DAT-eps0+discretizer=embedded-small-f4-4096``) sets one of DAT's documented knobs (``DAT_KNOBS``) and
#: is compared with the arm without it.
ARMS = ('normal', 'DAT', 'DAT-eps0')
METRICS = ('P', 'mPC', 'rPC')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', choices=sorted(MODELS), default=['efficientdet-lite0'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--arms', nargs='+', type=arm_name, default=list(ARMS),
                        help='normal, DAT, DAT-eps<X>, normal-<K>x, DAT-<K>x, a DAT arm with '
                        f"+<knob>=<value> ({', '.join(DAT_KNOBS)}; e.g. DAT+train_on=adv) "
                        '(default: normal DAT DAT-eps0)')
    parser.add_argument('--severities', nargs='+', default=['1', '3', '5'])
    parser.add_argument('--workers', default='1', help='corruption worker processes')
    parser.add_argument('--epochs', type=int, help="training epochs (default: each model's own)")
    parser.add_argument('--work-dir', default='work_dirs/study')
    parser.add_argument('--report-only', action='store_true',
                        help='train and evaluate nothing: report the finished runs')
    parser.add_argument('--records', nargs='+', default=[], metavar='STUDY_JSON',
                        help="earlier studies' study.json whose rows join the report (a run in "
                        '--work-dir replaces the record of the same model, seed and arm)')
    return parser.parse_args()


def arm_name(arm: str) -> str:
    base, knobs = arm_parts(arm)
    valid = base in ('normal', 'DAT') or arm_eps(base) is not None or arm_stretch(base) is not None
    if valid and knobs and not base.startswith('DAT'):
        raise argparse.ArgumentTypeError(f'{arm!r}: only a DAT arm takes DAT knobs (e.g. DAT+train_on=adv)')
    bad = [key for key, value in knobs.items() if key not in DAT_KNOBS or not value]
    if bad:
        raise argparse.ArgumentTypeError(f"{arm!r}: {', '.join(bad)} is not <knob>=<value> with a knob "
                                         f"of {', '.join(DAT_KNOBS)}")
    if valid:
        return arm
    raise argparse.ArgumentTypeError(f'{arm!r} is not an arm: normal, DAT, DAT-eps<X> (e.g. DAT-eps0), '
                                     'normal-<K>x or DAT-<K>x (e.g. normal-2x), a DAT arm with '
                                     '+<knob>=<value> (e.g. DAT+train_on=adv)')


def arm_parts(arm: str) -> Tuple[str, Dict[str, str]]:
    """An arm's base (normal, DAT, DAT-eps<X>, normal-<K>x, DAT-<K>x) and its DAT knobs: ``DAT+bn_mode=eval``
    is ``('DAT', {'bn_mode': 'eval'})``."""
    base, *settings = arm.split('+')
    return base, {key: value for key, _, value in (setting.partition('=') for setting in settings)}


def arm_eps(arm: str) -> Optional[float]:
    """The eps of a ``DAT-eps<X>`` arm, else None."""
    try:
        return float(arm[len('DAT-eps'):]) if arm.startswith('DAT-eps') else None
    except ValueError:
        return None


def arm_stretch(arm: str) -> Optional[int]:
    """The K of a ``normal-<K>x`` or ``DAT-<K>x`` arm (K ≥ 2), else None."""
    base, _, factor = arm.partition('-')
    digits = factor[:-1]
    if base in ('normal', 'DAT') and factor.endswith('x') and digits.isdigit() and int(digits) >= 2:
        return int(digits)
    return None


def run_dir(experiment: Experiment, model: str, seed: int, arm: str) -> str:
    return experiment.path(model, f'seed{seed}', arm)


@functools.lru_cache(maxsize=None)
def arm_discretizer(model: str, arm: str) -> Optional[str]:
    """The discretizer preset a DAT arm trains with (its ``+discretizer=`` knob, else its DAT config's);
    None for a normal arm."""
    if not arm.startswith('DAT'):
        return None
    knobs = arm_parts(arm)[1]
    if 'discretizer' in knobs:
        return knobs['discretizer']
    from mmengine.config import Config
    return dat_discretizer(Config.fromfile(osp.join(ROOT, MODELS[model][1])))


def canonical_arm(arm: str, discretizer: Optional[str]) -> str:
    """``arm`` with its knobs sorted and its discretizer named as a knob: one name for one run, whichever
    discretizer the DAT configs default to (``DAT`` of a tiny-discretizer record and
    ``DAT+discretizer=embedded-tiny-f4-4096`` are the same run)."""
    base, knobs = arm_parts(arm)
    if discretizer:
        knobs['discretizer'] = discretizer
    return base + ''.join(f'+{key}={knobs[key]}' for key in sorted(knobs))


def check_trained_discretizer(model: str, arm: str, work_dir: str) -> None:
    """Refuse a finished run whose discretizer is not the one its arm trains with now (a run of the DAT
    configs' former default), rather than reuse or report it under the wrong name."""
    dumped = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if not arm.startswith('DAT') or not dumped:
        return
    from mmengine.config import Config
    trained = dat_discretizer(Config.fromfile(dumped[0]))
    if trained != arm_discretizer(model, arm):
        raise SystemExit(f'{work_dir} was trained with the discretizer {trained}, but the arm {arm} now '
                         f'trains with {arm_discretizer(model, arm)}: rename the run directory to '
                         f'{canonical_arm(arm, trained)!r} to keep it as that arm, or use another --work-dir')


def run_one(experiment: Experiment, args: argparse.Namespace, model: str, seed: int, arm: str) -> None:
    normal_config, dat_config, epochs = MODELS[model]
    config = dat_config if arm.startswith('DAT') else normal_config
    base, knobs = arm_parts(arm)
    eps, stretch = arm_eps(base), arm_stretch(base) or 1
    options = [f'randomness.seed={seed}']
    if eps is not None:
        from mmengine.config import Config
        options += eps_options(eps, dat_block(Config.fromfile(osp.join(ROOT, config)))[0])
    options += knob_options(osp.join(ROOT, config), knobs)
    if stretch > 1:
        options += stretched_schedule(osp.join(ROOT, config), stretch)
    work_dir = run_dir(experiment, model, seed, arm)
    check_trained_discretizer(model, arm, work_dir)
    step = f'{model} seed {seed} {arm}'
    checkpoint = experiment.train(f'train {step}', config, work_dir, (args.epochs or epochs) * stretch,
                                  options)
    experiment.evaluate(f'evaluate {step}', config, checkpoint, osp.join(work_dir, 'robustness'),
                        args.severities, args.workers)
    if model in CLASSIFIERS:
        experiment.adversarial(f'adversarial {step}', config, checkpoint, osp.join(work_dir, 'adversarial'))


def collect(experiment: Experiment, args: argparse.Namespace) -> List[dict]:
    """One row per finished run."""
    rows = []
    for model in args.models:
        for seed in args.seeds:
            for arm in args.arms:
                work_dir = run_dir(experiment, model, seed, arm)
                result = osp.join(work_dir, 'robustness', 'robustness.json')
                if not osp.isfile(result):
                    continue
                check_trained_discretizer(model, arm, work_dir)
                with open(result) as file:
                    robustness = json.load(file)
                summary = robustness['summary']
                metrics = next(iter(summary['metrics'].values()))
                row = dict(model=model, seed=seed, arm=arm,
                           severities=summary['protocol'].get('severities', args.severities),
                           **{key: metrics[key] for key in METRICS},
                           **final_epoch_means(work_dir, DAT_STATISTICS))
                if arm_discretizer(model, arm):
                    row['discretizer'] = arm_discretizer(model, arm)
                if model in CLASSIFIERS:
                    row.update(classifier_metrics(robustness, osp.join(work_dir, 'adversarial',
                                                                       'adversarial.json')))
                rows.append(row)
    return rows


def classifier_metrics(robustness: dict, adversarial_json: str) -> dict:
    """A classifier run's accuracies in 0-1 like mAP (P, mPC; rPC is a ratio already), its mCE (0-1)
    and, where evaluated, each adversarial cell's top-1 (``adv <attack> <eps>``)."""
    metrics = next(iter(robustness['summary']['metrics'].values()))
    row = dict(P=metrics['P'] / 100, mPC=metrics['mPC'] / 100)
    errors = robustness.get('corruption_errors')
    if errors and errors.get('mCE') is not None:
        row['mCE'] = errors['mCE'] / 100
    if osp.isfile(adversarial_json):
        with open(adversarial_json) as file:
            adversarial = json.load(file)
        for cell in adversarial['attacks']:
            row[f"adv {cell['name']} {cell['eps']:.4g}"] = cell['metrics']['accuracy/top1'] / 100
    return row


def add_records(rows: List[dict], args: argparse.Namespace) -> List[dict]:
    """``rows`` plus the rows of ``args.records`` for the models, seeds and arms asked for, except
    where ``rows`` already has a run of the same model, seed and arm. A DAT record is a run of the arm
    asked for when its discretizer is the one that arm trains with now (:func:`canonical_arm`)."""
    found = {(r['model'], r['seed'], r['arm']) for r in rows}
    wanted = {(model, canonical_arm(arm, arm_discretizer(model, arm))): arm
              for model in args.models for arm in args.arms}
    merged = list(rows)
    for path in args.records:
        try:
            with open(path) as file:
                records = json.load(file)
        except (OSError, json.JSONDecodeError) as error:
            raise SystemExit(f'--records {path}: not a readable study.json ({error})') from None
        for i, record in enumerate(records if isinstance(records, list) else [records]):
            missing = [k for k in ('model', 'seed', 'arm', *METRICS) if k not in record]
            if missing:
                raise SystemExit(f'--records {path}: row {i} has no {", ".join(missing)}; a study.json '
                                 'row holds model, seed, arm, P, mPC and rPC')
            if [str(s) for s in record.get('severities', args.severities)] != list(args.severities):
                raise SystemExit(f"--records {path}: row {i} was evaluated at severities "
                                 f"{record['severities']}, this study at {args.severities}")
            if record['arm'].startswith('DAT') and not record.get('discretizer'):
                raise SystemExit(f'--records {path}: row {i} ({record["arm"]}) does not say its '
                                 'discretizer; add "discretizer": "<preset>"')
            arm = wanted.get((record['model'], canonical_arm(record['arm'], record.get('discretizer'))))
            key = (record['model'], record['seed'], arm)
            if arm and record['seed'] in args.seeds and key not in found:
                found.add(key)
                merged.append(dict(record, arm=arm))
    order = {arm: i for i, arm in enumerate(args.arms)}
    return sorted(merged, key=lambda r: (r['model'], r['seed'], order[r['arm']]))


def mean_std(values: List[float], signed: bool = False) -> str:
    """``mean ± sd`` in points (× 100); no sd for a single run."""
    rounded = round(statistics.fmean(values) * 100, 2) + 0.0  # + 0.0 turns a rounded -0.0 into 0.0
    mean = f'{rounded:{"+" if signed else ""}.2f}'
    if len(values) < 2:
        return mean
    return f'{mean} ± {statistics.stdev(values) * 100:.2f}'


def paired(rows: List[dict], model: str, arm: str, base: str, key: str) -> List[float]:
    """``arm − base`` per seed where both ran."""
    by_seed = {(r['arm'], r['seed']): r[key] for r in rows if r['model'] == model}
    return [by_seed[(arm, s)] - by_seed[(base, s)] for (a, s) in by_seed
            if a == arm and (base, s) in by_seed]


def paired_p(differences: List[float]) -> Optional[float]:
    """Two-sided p of the paired t-test (the per-seed differences against 0); None below 2 seeds or
    when every difference is equal."""
    if len(differences) < 2 or statistics.stdev(differences) == 0:
        return None
    from scipy.stats import ttest_1samp
    return float(ttest_1samp(differences, 0.0).pvalue)


def clean_name(model: str) -> str:
    """What P is for ``model``: clean top-1 of a classifier, clean mAP of a detector."""
    return 'clean top-1' if model in CLASSIFIERS else 'clean mAP'


def changed(gains: dict, model: str) -> str:
    """``changed mPC by … (paired t-test p = …), rPC by … and clean mAP by … (n seeds)`` from the paired
    gains (``{metric: [gain per seed]}``)."""
    n = len(gains['mPC'])
    p = paired_p(gains['mPC'])
    test = f' (paired t-test p = {p:.2f})' if p is not None else ''
    return (f"changed mPC by {mean_std(gains['mPC'], True)}{test}, rPC by {mean_std(gains['rPC'], True)} "
            f"and {clean_name(model)} by {mean_std(gains['P'], True)} ({n} seed{'s' * (n > 1)})")


def direction(gains: dict) -> str:
    """Whether the mean paired gains (``{metric: [gain per seed]}``) are in the paper's direction."""
    if in_paper_direction({key: statistics.fmean(values) for key, values in gains.items()}):
        return "the paper's direction."
    return "not the paper's direction (mPC and rPC up, clean mAP down by at most 0.5)."


def verdict(rows: List[dict], model: str) -> str:
    """What DAT did on this model, with the seeds' spread, and whether the attack is what helped."""
    gains = {key: paired(rows, model, 'DAT', 'normal', key) for key in METRICS}
    if not gains['mPC']:
        return ' '.join(['No seed has both a normal and a DAT run yet.'] + eps_arms(rows, model)
                        + stretched_arms(rows, model) + knob_arms(rows, model))
    n = len(gains['mPC'])
    agree = sum(g > 0 for g in gains['mPC'])
    lines = [f"Over {n} seed{'s' * (n > 1)}, DAT changed mPC by {mean_std(gains['mPC'], True)} "
             f"(higher in {agree} of {n}), rPC by {mean_std(gains['rPC'], True)} and {clean_name(model)} by "
             f"{mean_std(gains['P'], True)} points: {direction(gains)}"]
    share = paired(rows, model, 'DAT', 'DAT-eps0', 'mPC')
    if share:
        kind = attack_share_kind(share)
        lines.append(f'The attack\'s own share (DAT − eps 0, paired by seed) is '
                     f'{mean_std(share, True)} mPC: the gain is {kind}.')
    return ' '.join(lines + eps_arms(rows, model) + stretched_arms(rows, model) + knob_arms(rows, model))


def knob_arms(rows: List[dict], model: str) -> List[str]:
    """One sentence per arm with DAT knobs: against normal, against the same arm without them and, for an
    arm that attacks, against eps 0 (the attack's own share: both train on Q(x) at zero budget): the
    plain ``DAT-eps0`` for an attack knob, the eps-0 arm with the same knobs otherwise (e.g. with the
    same discretizer), where it ran. An arm with the DAT configs' own discretizer is also compared with
    the same arm on each other discretizer of the study."""
    arms = {r['arm'] for r in rows if r['model'] == model}
    default = arm_discretizer(model, 'DAT')
    lines = []
    for arm in sorted(a for a in arms if arm_parts(a)[1]):
        base, knobs = arm_parts(arm)
        eps0_name = canonical_arm('DAT-eps0' + ''.join(f'+{key}={value}' for key, value in knobs.items()
                                                       if key != 'attack'), None)
        eps0 = next((a for a in arms if canonical_arm(a, None) == eps0_name), None)
        attacks = 'attack' in knobs or base == 'DAT' or (arm_eps(base) or 0) > 0
        others = ()
        if knobs.get('discretizer') == default:
            others = tuple(sorted(a for a in arms if arm_parts(a)[0] == base
                                  and arm_parts(a)[1].get('discretizer') not in (None, default)
                                  and canonical_arm(a, default) == canonical_arm(arm, default)))
        eps0_reference = (eps0, ) if attacks and eps0 not in (None, arm) else ()
        for reference in ('normal', base) + eps0_reference + others:
            gains = {key: paired(rows, model, arm, reference, key) for key in METRICS}
            if gains['mPC']:
                lines.append(f'Against {reference}, {arm} {changed(gains, model)}'
                             + (f': {direction(gains)}' if reference == 'normal' else '.'))
    return lines


def stretched_arms(rows: List[dict], model: str) -> List[str]:
    """One sentence per ``normal-<K>x`` arm (K even): the DAT arm of half its schedule (the same
    images) against it."""
    lines = []
    for arm in sorted({r['arm'] for r in rows if r['model'] == model and r['arm'].startswith('normal-')
                       and (arm_stretch(r['arm']) or 1) % 2 == 0}, key=arm_stretch):
        stretch = arm_stretch(arm)
        dat = 'DAT' if stretch == 2 else f'DAT-{stretch // 2}x'
        gains = {key: paired(rows, model, dat, arm, key) for key in METRICS}
        if gains['mPC']:
            lines.append(f'Against normal trained on as many images ({arm}), {dat} {changed(gains, model)}: '
                         + direction(gains))
    return lines


def eps_arms(rows: List[dict], model: str) -> List[str]:
    """One sentence per ``DAT-eps<X>`` arm (X > 0): its mPC against normal and against eps 0."""
    lines = []
    for arm in sorted({r['arm'] for r in rows if r['model'] == model and arm_eps(r['arm'])}, key=arm_eps):
        gain, over_eps0 = (paired(rows, model, arm, base, 'mPC') for base in ('normal', 'DAT-eps0'))
        if gain:
            lines.append(f'With eps {arm_eps(arm):g}, mPC changed by {mean_std(gain, True)} against '
                         'normal' + (f' and by {mean_std(over_eps0, True)} against eps 0'
                                     if over_eps0 else '') + f' ({len(gain)} seed{"s" * (len(gain) > 1)}).')
    return lines


def report(rows: List[dict], args: argparse.Namespace) -> str:
    lines = [f"# Efficacy study: {', '.join(args.arms)}", '',
             f"Corruption severities {', '.join(args.severities)}; mean ± standard deviation over "
             "each arm's seeds, in points (mAP × 100, or top-1 in %; rPC in %). Δ are paired by seed, "
             'against normal.',
             '']
    for model in args.models:
        model_rows = [r for r in rows if r['model'] == model]
        if not model_rows:
            continue
        lines += [f'## {model}', '', verdict(rows, model), '',
                  '| arm | seeds | P | mPC | rPC | ΔP | ΔmPC | ΔrPC | loss x | loss x_adv | code flip '
                  '| ‖δ‖ | ‖x_adv − x‖ |',
                  '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
        for arm in args.arms:
            arm_rows = [r for r in model_rows if r['arm'] == arm]
            if not arm_rows:
                continue
            cells = [arm, ', '.join(str(r['seed']) for r in arm_rows)]
            cells += [mean_std([r[key] for r in arm_rows]) for key in METRICS]
            for key in METRICS:
                deltas = paired(rows, model, arm, 'normal', key)
                cells.append(mean_std(deltas, signed=True) if deltas and arm != 'normal' else '')
            for keys, scale in ((('dat/loss_clean', 'dat/loss_xhat'), 1), (('dat/loss_adv', ), 1),
                                (('dat/code_flip', ), 100), (('dat/delta_norm', ), 1),
                                (('dat/adv_distance', ), 1)):
                values = [next(r[k] for k in keys if k in r) for r in arm_rows if any(k in r for k in keys)]
                cells.append(f'{statistics.fmean(values) * scale:.3g}' + ('%' if scale == 100 else '')
                             if values else '')
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines += [''] + classifier_table(rows, model, args.arms)
    lines += ['The last five columns are means over each DAT run\'s last epoch (of the runs that log '
              'them): the training loss on the clean batch (x̂ where the mode has no clean pass) and at '
              'x_adv, the share of visual words the attack changed (0 for eps 0), the L2 norm of δ and '
              'the distance of x_adv from x per image, in [0, 1] RGB.', '']
    notes = sorted({r['note'] for r in rows if r.get('note')})
    if notes:
        lines += ['Runs reported from records, not from this work dir:', '']
        lines += [f'- {note}' for note in notes] + ['']
    lines += ['![study](study.png)', '']
    return '\n'.join(lines)


def classifier_table(rows: List[dict], model: str, arms: List[str]) -> List[str]:
    """mCE and the adversarial accuracies per arm (mean ± sd, and the paired Δ to normal), where the
    runs have them."""
    model_rows = [r for r in rows if r['model'] == model]
    keys = [k for k in dict.fromkeys(k for r in model_rows for k in r) if k == 'mCE' or k.startswith('adv ')]
    if not keys:
        return []
    lines = ['Lower mCE is better (AlexNet-normalised, %); the adversarial columns are top-1 (%) under '
             "tools/test_adversarial.py's default attacks, with the paired Δ to normal.", '',
             '| arm | ' + ' | '.join(keys) + ' |', '|---|' + '---|' * len(keys)]
    for arm in arms:
        arm_rows = [r for r in model_rows if r['arm'] == arm]
        if not arm_rows:
            continue
        cells = [arm]
        for key in keys:
            values = [r[key] for r in arm_rows if key in r]
            deltas = paired([r for r in rows if key in r], model, arm, 'normal', key)
            cells.append((mean_std(values) if values else '') +
                         (f' ({mean_std(deltas, signed=True)})' if deltas and arm != 'normal' else ''))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines + ['']


def plot(rows: List[dict], args: argparse.Namespace, path: str) -> None:
    """One panel per model and metric: every seed as a dot, the mean as a bar."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    models = [m for m in args.models if any(r['model'] == m for r in rows)]
    # one line per knob, the discretizer as Q (+discretizer=embedded-small-f4-4096: +Q=small-f4-4096)
    labels = [arm.replace('+discretizer=embedded-', '+Q=').replace('+discretizer=', '+Q=').replace('+', '\n+')
              for arm in args.arms]
    crowded = len(args.arms) > 3 and max(len(line) for label in labels for line in label.split('\n')) > 16
    width = max(4, 1.4 * len(args.arms)) if any('\n' in label for label in labels) else 4
    figure, axes = plt.subplots(len(models), len(METRICS), figsize=(width * len(METRICS), 3 * len(models)),
                                squeeze=False)
    for i, model in enumerate(models):
        for j, key in enumerate(METRICS):
            ax = axes[i][j]
            for k, arm in enumerate(args.arms):
                values = [r[key] * 100 for r in rows if r['model'] == model and r['arm'] == arm]
                if values:
                    ax.bar(k, statistics.fmean(values), color=f'C{k}', alpha=0.4)
                    ax.scatter([k] * len(values), values, color=f'C{k}', zorder=3)
            ax.set_xticks(range(len(args.arms)), labels, rotation=30 if crowded else 0, fontsize='small',
                          ha='right' if crowded else 'center')
            unit = ' (%)' if key == 'rPC' or model in CLASSIFIERS else ' (mAP × 100)'
            ax.set_title(f'{model}: {key}{unit}')
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    args = parse_args()
    experiment = Experiment(args.work_dir, ROOT)
    if not args.report_only:
        for model in args.models:
            for seed in args.seeds:
                for arm in args.arms:
                    run_one(experiment, args, model, seed, arm)
    rows = add_records(collect(experiment, args), args)
    with open(experiment.path('study.json'), 'w') as file:
        json.dump(rows, file, indent=1)
    text = report(rows, args)
    with open(experiment.path('study.md'), 'w') as file:
        file.write(text)
    if rows:
        plot(rows, args, experiment.path('study.png'))
    print(text)
    print(f"written: {experiment.path('study.md')}, study.json, study.png")


if __name__ == '__main__':
    main()

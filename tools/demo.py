"""The main job end to end: train a detector normally, with DAT and normally on as many images as DAT,
evaluate each on corruptions of the embedded val split, and write a report that says what DAT did.

Steps (each is skipped when its result exists, so a re-run reuses trained checkpoints, finished
robustness cells and cached corruptions):

1. ``tools/train.py`` on ``configs/demo/efficientdet-lite0_8xb8-160-8e_embedded.py`` (normal);
2. ``tools/train.py`` on its DAT twin (same seed and schedule, the shipped discretizer);
3. ``tools/train.py`` on the normal config for twice the epochs (``normal-2x``: DAT trains on two
   batches per step, so this run sees as many images; ``--no-normal-2x`` leaves it out);
4. ``tools/test_robustness.py`` on each (the 15 benchmark corruptions, one shared corruption cache);
5. ``tools/compare_robustness.py`` and ``<work-dir>/report.md``: the table (P, mPC, rPC and the
   per-corruption deltas), the plots, DAT's own statistics and its example grid.

Example::

    python tools/demo.py                        # what `make demo` runs
    python tools/demo.py --severities 1 2 3 4 5 # the full COCO-C protocol (longer)
    python tools/demo.py --eps0                 # and the run that tells the attack's share
"""
import argparse
import glob
import os.path as osp
import shutil
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from mmdat.apis.experiment import (DAT_STATISTICS, Experiment, attack_share_kind, eps_options,
                                   final_epoch_means, in_paper_direction, stretched_schedule)

RUNS = {
    'normal': 'configs/demo/efficientdet-lite0_8xb8-160-8e_embedded.py',
    'DAT': 'configs/demo/efficientdet-lite0_dat-fused_8xb8-160-8e_embedded.py',
}
#: The ablation run (--eps0): DAT's twin with the attack switched off, x_adv = Q(x). It separates
#: what the attack adds from what the discretizer and the second batch add.
EPS0_RUN = 'DAT-eps0'
#: The equal-images run (--normal-2x): the normal config trained twice as long, its schedule stretched.
#: DAT's `fused` step trains on x and x_adv, so this run sees as many images as DAT: it separates DAT's
#: gain from more training.
LONG_RUN = 'normal-2x'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--severities', nargs='+', default=['1', '3', '5'],
                        help='corruption severities (default 1 3 5; all five for the full '
                        'protocol)')
    parser.add_argument('--workers', default='1', help='corruption worker processes')
    parser.add_argument('--epochs', type=int, default=8,
                        help="training epochs (default: the demo configs' 8; fewer for a first "
                        'look, with the learning-rate schedule cut, not rescaled)')
    parser.add_argument('--eps0', action='store_true',
                        help=f'also train and evaluate {EPS0_RUN}: the DAT config with eps 0 '
                        '(about 20 more minutes)')
    parser.add_argument('--normal-2x', dest='normal_2x', action=argparse.BooleanOptionalAction,
                        default=True,
                        help=f'also train and evaluate {LONG_RUN}: the normal config for twice the '
                        'epochs, as many images as DAT trains on (about 7 minutes; default: on)')
    return parser.parse_args()


def changes(results: dict, name: str, base: str) -> dict:
    """``name − base`` in clean mAP (P), mPC and rPC (mAP in 0-1)."""
    after, before = (results[run]['summary']['metrics']['mAP'] for run in (name, base))
    return {key: after[key] - before[key] for key in ('P', 'mPC', 'rPC')}


def answer(results: dict) -> str:
    """The report's first sentence: did DAT help, weighing both baselines the demo trained."""
    same_schedule = in_paper_direction(changes(results, 'DAT', 'normal'))
    equal = in_paper_direction(changes(results, 'DAT', LONG_RUN)) if LONG_RUN in results else None
    if same_schedule and equal:
        return ('**DAT helped**: it is ahead of normal training in the paper\'s direction both on the '
                'same schedule and against normal trained on as many images.')
    if same_schedule and equal is None:
        return ('**DAT is ahead of normal training on the same schedule, in the paper\'s direction**; '
                'whether that is more than DAT\'s second batch per step is not measured without '
                f'{LONG_RUN}.')
    if same_schedule:
        return ('**DAT did not help beyond more training**: it is ahead of normal training on the same '
                'schedule, in the paper\'s direction, but not against normal trained on as many images '
                f'({LONG_RUN}). In this run DAT\'s gain is more training (its second batch per step), '
                'not robustness.')
    if equal:
        return ('**Mixed**: DAT is not ahead of normal on the same schedule in the paper\'s direction, '
                f'yet it is ahead of normal trained on as many images ({LONG_RUN}); read the numbers '
                'below before drawing a conclusion.')
    return ('**DAT did not help here**: it is not ahead of normal training in the paper\'s direction'
            + ('.' if equal is None else f', neither on the same schedule nor against {LONG_RUN}.'))


def verdict(results: dict) -> str:
    """One sentence on what DAT did to clean mAP, mPC and rPC against normal on the same schedule,
    whichever way it went."""
    before, after = (results[run]['summary']['metrics']['mAP'] for run in ('normal', 'DAT'))
    change = changes(results, 'DAT', 'normal')
    words = {key: ('raised' if value > 0 else 'lowered' if value < 0 else 'kept')
             for key, value in change.items()}
    sentence = (f"Against normal on the same schedule, DAT {words['mPC']} mPC by "
                f"{abs(change['mPC']) * 100:.2f} points ({before['mPC'] * 100:.2f} → "
                f"{after['mPC'] * 100:.2f}) and {words['rPC']} rPC by {abs(change['rPC']) * 100:.1f} "
                f"points, and {words['P']} clean mAP by {abs(change['P']) * 100:.2f} points "
                f"({before['P'] * 100:.2f} → {after['P'] * 100:.2f}).")
    if in_paper_direction(change):
        return sentence + ' That is the paper\'s direction (Table 4).'
    return sentence + (' That is not the paper\'s direction (Table 4: mPC and rPC up, clean mAP '
                       'held). One seed and a short schedule cannot separate a small effect from '
                       'seed noise.')


def ablation(results: dict) -> str:
    """What the attack adds over the discretizer and the second batch, from the eps-0 run."""
    if EPS0_RUN not in results:
        return ('Not separated here: run `tools/demo.py --eps0` to add the eps-0 run (Q(x) and the '
                'second batch without the attack).')
    normal, dat, eps0 = (results[name]['summary']['metrics']['mAP']
                         for name in ('normal', 'DAT', EPS0_RUN))
    gains = {key: (dat[key] - normal[key], eps0[key] - normal[key]) for key in ('P', 'mPC')}
    lines = [f"With eps 0 (the same config without the attack: x_adv = Q(x)), P is "
             f"{eps0['P'] * 100:.2f} and mPC {eps0['mPC'] * 100:.2f} (rPC {eps0['rPC'] * 100:.1f} %)."]
    for key, (dat_gain, eps0_gain) in gains.items():
        lines.append(f'Of DAT\'s {key} gain of {dat_gain * 100:+.2f} points, the run without the attack '
                     f'gets {eps0_gain * 100:+.2f}; the attack\'s own share is '
                     f'{(dat_gain - eps0_gain) * 100:+.2f}.')
    attack_share = gains['mPC'][0] - gains['mPC'][1]
    lines.append(f'In this run the gain is {attack_share_kind([attack_share])}.')
    return ' '.join(lines)


def equal_images(results: dict) -> str:
    """DAT against normal trained on as many images, from the normal-2x run."""
    if LONG_RUN not in results:
        return ('Not compared here with normal trained on as many images: DAT trains on two batches '
                f'per step; run `tools/demo.py` without `--no-normal-2x` to add {LONG_RUN}.')
    long = results[LONG_RUN]['summary']['metrics']['mAP']
    change = changes(results, 'DAT', LONG_RUN)
    return (f"Normal trained twice as long ({LONG_RUN}: the images DAT trains on) reaches P "
            f"{long['P'] * 100:.2f}, mPC {long['mPC'] * 100:.2f} and rPC {long['rPC'] * 100:.1f} %. "
            f"Against it DAT changed mPC by {change['mPC'] * 100:+.2f}, rPC by "
            f"{change['rPC'] * 100:+.1f} and clean mAP by {change['P'] * 100:+.2f} points: "
            + ("DAT is ahead in the paper's direction at equal images." if in_paper_direction(change) else
               "at equal images DAT is not ahead in the paper's direction (mPC and rPC up, clean "
               "mAP down by at most 0.5)."))


def write_report(args: argparse.Namespace, experiment: Experiment, work_dirs: dict,
                 results: dict) -> str:
    with open(experiment.path('compare.md')) as file:
        table = file.read().strip()
    grids = sorted(glob.glob(osp.join(work_dirs['DAT'], '*', 'vis_data', 'vis_image',
                                      'dat_examples_*.png')))
    grid_line = ''
    if grids:
        shutil.copy(grids[-1], experiment.path('dat_examples.png'))
        grid_line = ('\n## What DAT trained on\n\nThe last logged DAT step: x, x_adv and the amplified '
                     '|x_adv − x| (`fused` has no x̂, so no Q(x) panels):\n\n'
                     '![DAT examples](dat_examples.png)\n')
    statistics = final_epoch_means(work_dirs['DAT'], DAT_STATISTICS)
    statistics_lines = '\n'.join(f'| `{key}` | {value:.4g} |' for key, value in statistics.items())
    timings = experiment.timings
    timing_lines = '\n'.join(f'| {step} | {seconds / 60:.1f} min |' for step, seconds in timings.items())
    if 'train normal' in timings and 'train DAT' in timings:
        ratio = timings['train DAT'] / timings['train normal']
        timing_lines += f'\n| DAT / normal training | {ratio:.1f}× |'
    further = ''.join(sentence for name, sentence in (
        (LONG_RUN, f'; and normally for {2 * args.epochs} epochs ({LONG_RUN}, the images DAT trains on)'),
        (EPS0_RUN, f'; and with DAT at eps 0 ({EPS0_RUN}: x_adv = Q(x), no attack)')) if name in results)
    report = f"""# mmdat demo: does DAT make EfficientDet-Lite0 more robust, and what does it cost?

EfficientDet-Lite0 (ImageNet-pretrained backbone, stages ≤ 3 frozen) trained for {args.epochs} epochs on
the embedded dataset at 160 px, normally (`{RUNS['normal']}`) and with DAT
(`{RUNS['DAT']}`: the shipped discretizer, the official attack, `train_on='fused'`), same seed and
schedule{further}. Each evaluated by `tools/test_robustness.py` on the 100 val images: clean and the
15 benchmark corruptions at severities {', '.join(args.severities)}.

## Result

{answer(results)}

{verdict(results)}

{equal_images(results)}

{ablation(results)}

{table}

![per corruption](compare.png)

Per-run reports (with plots): {', '.join(f'`{name}/robustness/robustness.md`' for name in results)}.

## DAT's own statistics (means over the last epoch)

| statistic | value |
|---|---|
{statistics_lines}

`dat/code_flip` is the share of visual words the attack changed; `dat/loss_adv` against
`dat/loss_clean` is what the attack did to the training loss; `dat/adv_distance` against
`dat/delta_norm` is how far x_adv is from x (L2 per image) against the attack's own share of it.

Read the result with two things in mind:
- One seed. The spread between seeds was not measured here, and 100 val images make it wide.
- The same number of steps, but not the same work. `fused` back-propagates the clean loss and the
  adversarial loss at every step, so the DAT run trains on twice the images per step. A gain in
  clean mAP can come from that, or from Q(x + δ) acting as augmentation, as well as from the
  attack. The eps-0 run (under Result) separates the attack from the rest, the normal-2x run more
  training from the rest.
{grid_line}
## Time (when each step last ran, in `timings.json`)

| step | time |
|---|---|
{timing_lines}
"""
    path = experiment.path('report.md')
    with open(path, 'w') as file:
        file.write(report)
    return path


def main() -> None:
    args = parse_args()
    experiment = Experiment(args.work_dir, ROOT)
    # name -> (config, epochs, further --cfg-options)
    runs = {name: (config, args.epochs, ()) for name, config in RUNS.items()}
    if args.eps0:
        runs[EPS0_RUN] = (RUNS['DAT'], args.epochs, eps_options(0))
    if args.normal_2x:
        runs[LONG_RUN] = (RUNS['normal'], 2 * args.epochs,
                          stretched_schedule(osp.join(ROOT, RUNS['normal']), 2))
    work_dirs = {name: experiment.path(name) for name in runs}
    checkpoints = {name: experiment.train(f'train {name}', config, work_dirs[name], epochs, options)
                   for name, (config, epochs, options) in runs.items()}
    results = {
        name: experiment.evaluate(f'evaluate {name}', config, checkpoints[name],
                                  osp.join(work_dirs[name], 'robustness'), args.severities,
                                  args.workers)
        for name, (config, _, _) in runs.items()}
    experiment.run('compare', 'tools/compare_robustness.py',
                   *[osp.join(work_dirs[name], 'robustness') for name in runs], '--names', *runs,
                   '--plot', experiment.path('compare.png'), '--out', experiment.path('compare.md'))
    print(f'\nreport: {write_report(args, experiment, work_dirs, results)}')


if __name__ == '__main__':
    main()

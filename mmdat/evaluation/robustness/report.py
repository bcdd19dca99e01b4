"""Human-readable outputs of a robustness run: ``robustness.md`` and PNG plots, plus the comparison
of several runs in the form of the DAT paper's Table 4 (clean mAP, mPC, rPC %)."""
import os.path as osp
from typing import List, Optional, Sequence

from .corruptions import ALL

PERCENT_METRICS = ('mAP', 'AP50', 'AP75', 'AP_s', 'AP_m', 'AP_l')


def _scaled(name: str, value: Optional[float]) -> str:
    """COCO AP in points (x100), accuracies as reported (already in percent)."""
    if value is None:
        return '–'
    return f'{100 * value:.2f}' if name in PERCENT_METRICS else f'{value:.2f}'


def _rpc(value: Optional[float]) -> str:
    return '–' if value is None else f'{100 * value:.2f}'


def primary_metric(result: dict) -> str:
    """The first headline metric of a result (``mAP`` for detectors, ``top1`` for classifiers)."""
    return next(iter(result['summary']['metrics']))


def write_markdown(result: dict, path: str) -> None:
    """``robustness.md``: the protocol, the summary, the per-cell table and the plots."""
    summary = result['summary']
    lines = [f'# Robustness: {osp.basename(result["config"])}', '',
             f'- checkpoint: `{result["checkpoint"]}`',
             f'- corruption library: {result["corruption_library"]}, seed {result["seed"]}',
             f'- images: {result["num_images"] or "whole split"}']
    protocol = summary['protocol']
    if protocol['full_benchmark']:
        lines.append('- protocol: the full benchmark (15 corruptions x 5 severities)')
    else:
        lines.append('- protocol: **a subset run**: ' + '; '.join(protocol['subset_reasons']) +
                     '. mPC and rPC average only the evaluated cells and are not comparable with '
                     'full-benchmark numbers.')
    lines += ['', '## Summary', '', '| metric | P (clean) | mPC | rPC (%) | mPC holdout |',
              '|---|---|---|---|---|']
    for name, values in summary['metrics'].items():
        lines.append(f'| {name} | {_scaled(name, values["P"])} | {_scaled(name, values["mPC"])} | '
                     f'{_rpc(values["rPC"])} | {_scaled(name, values["mPC_holdout"])} |')
    if 'corruption_errors' in result:
        errors = result['corruption_errors']
        mce = '–' if errors['mCE'] is None else f'{errors["mCE"]:.2f}'
        lines += ['', f'Mean corruption accuracy: {errors["mean_corruption_accuracy"]:.2f}; '
                  f'mCE {mce} (normalised by {errors["baseline"]}).']
    name = primary_metric(result)
    severities = result['severities']
    lines += ['', f'## {name} per corruption and severity', '',
              '| corruption | ' + ' | '.join(str(s) for s in severities) + ' | mean |',
              '|---|' + '---|' * (len(severities) + 1)]
    cells = {(cell['corruption'], cell['severity']): cell['metrics'] for cell in result['cells']}
    key = summary['metrics'][name]['key']
    for corruption in result['corruptions']:
        row = [_scaled(name, cells[(corruption, s)][key]) if (corruption, s) in cells else '–'
               for s in severities]
        mean = summary['metrics'][name]['per_corruption'].get(corruption)
        lines.append(f'| {corruption} | ' + ' | '.join(row) + f' | {_scaled(name, mean)} |')
    lines += ['', '![per corruption](robustness_per_corruption.png)', '',
              '![per severity](robustness_per_severity.png)', '']
    with open(path, 'w') as file:
        file.write('\n'.join(lines))


def plot_result(result: dict, out_dir: str) -> List[str]:
    """Two PNGs: the primary metric per corruption (bars, clean as a line) and against severity."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    name = primary_metric(result)
    metrics = result['summary']['metrics'][name]
    scale = 100.0 if name in PERCENT_METRICS else 1.0
    per_corruption = metrics['per_corruption']
    paths = []
    figure, axes = plt.subplots(figsize=(max(6, 0.5 * len(per_corruption) + 2), 4))
    axes.bar(range(len(per_corruption)), [scale * v for v in per_corruption.values()],
             color='tab:blue')
    axes.axhline(scale * metrics['P'], color='tab:green', linestyle='--', label='clean (P)')
    if metrics['mPC'] is not None:
        axes.axhline(scale * metrics['mPC'], color='tab:red', linestyle=':', label='mPC')
    axes.set_xticks(range(len(per_corruption)))
    axes.set_xticklabels(list(per_corruption), rotation=60, ha='right')
    axes.set_ylabel(name)
    axes.set_title(f'{name} per corruption (mean over severities)')
    axes.legend()
    figure.tight_layout()
    paths.append(osp.join(out_dir, 'robustness_per_corruption.png'))
    figure.savefig(paths[-1], dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(6, 4))
    cells = {(cell['corruption'], cell['severity']): cell['metrics'] for cell in result['cells']}
    for corruption in result['corruptions']:
        points = [(0, metrics['P'])] + [(s, cells[(corruption, s)][metrics['key']])
                                        for s in result['severities'] if (corruption, s) in cells]
        axes.plot([p[0] for p in points], [scale * p[1] for p in points], marker='.',
                  linewidth=1, alpha=0.6, label=corruption)
    per_severity = metrics['per_severity']
    axes.plot([0] + [int(s) for s in per_severity], [scale * metrics['P']] +
              [scale * v for v in per_severity.values()], color='black', linewidth=3,
              marker='o', label='mean')
    axes.set_xlabel('severity (0 = clean)')
    axes.set_ylabel(name)
    axes.set_title(f'{name} against severity')
    axes.legend(fontsize=6, ncol=2)
    figure.tight_layout()
    paths.append(osp.join(out_dir, 'robustness_per_severity.png'))
    figure.savefig(paths[-1], dpi=100)
    plt.close(figure)
    return paths


def comparison_table(results: Sequence[dict], names: Sequence[str]) -> str:
    """Table 4 of the DAT paper for several runs: clean, mPC and rPC % of the primary metric, and
    their differences to the first run, plus the per-corruption deltas."""
    metric = primary_metric(results[0])
    base = results[0]['summary']['metrics'][metric]
    lines = [f'| run | P ({metric}) | mPC | rPC (%) | ΔP | ΔmPC | ΔrPC |', '|---|---|---|---|---|---|---|']
    for name, result in zip(names, results):
        values = result['summary']['metrics'][metric]
        deltas = [_delta(metric, values[k], base[k], scale_rpc=(k == 'rPC'))
                  for k in ('P', 'mPC', 'rPC')]
        lines.append(f'| {name} | {_scaled(metric, values["P"])} | '
                     f'{_scaled(metric, values["mPC"])} | {_rpc(values["rPC"])} | '
                     + ' | '.join(deltas) + ' |')
    corruptions = [c for c in ALL if all(c in r['summary']['metrics'][metric]['per_corruption']
                                         for r in results)]
    if len(results) > 1 and corruptions:
        lines += ['', f'Per-corruption {metric} (mean over severities), Δ against {names[0]}:', '',
                  '| corruption | ' + ' | '.join(names) + ' | ' +
                  ' | '.join(f'Δ {n}' for n in names[1:]) + ' |',
                  '|---|' + '---|' * (2 * len(names) - 1)]
        for corruption in corruptions:
            values = [r['summary']['metrics'][metric]['per_corruption'][corruption]
                      for r in results]
            lines.append(f'| {corruption} | ' + ' | '.join(_scaled(metric, v) for v in values) +
                         ' | ' + ' | '.join(_delta(metric, v, values[0]) for v in values[1:]) +
                         ' |')
    return '\n'.join(lines)


def _delta(metric: str, value: Optional[float], base: Optional[float],
           scale_rpc: bool = False) -> str:
    if value is None or base is None:
        return '–'
    difference = value - base
    scale = 100.0 if scale_rpc or metric in PERCENT_METRICS else 1.0
    return f'{scale * difference:+.2f}'


def plot_comparison(results: Sequence[dict], names: Sequence[str], path: str) -> None:
    """One PNG: the primary metric per corruption for each run, clean first."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    metric = primary_metric(results[0])
    scale = 100.0 if metric in PERCENT_METRICS else 1.0
    corruptions = [c for c in ALL if all(c in r['summary']['metrics'][metric]['per_corruption']
                                         for r in results)]
    labels = ['clean', 'mPC'] + corruptions
    width = 0.8 / len(results)
    figure, axes = plt.subplots(figsize=(max(7, 0.55 * len(labels) + 2), 4))
    for index, (name, result) in enumerate(zip(names, results)):
        values = result['summary']['metrics'][metric]
        heights = [values['P'], values['mPC'] or 0.0] + [
            values['per_corruption'][c] for c in corruptions]
        axes.bar(np.arange(len(labels)) + index * width, [scale * h for h in heights], width,
                 label=name)
    axes.set_xticks(np.arange(len(labels)) + 0.4 - width / 2)
    axes.set_xticklabels(labels, rotation=60, ha='right')
    axes.set_ylabel(metric)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

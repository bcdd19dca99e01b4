"""Corruption robustness evaluation: COCO-C (P, mPC, rPC) for detectors and ImageNet-C style
accuracy and mCE for classifiers. Needs no discretizer and no DAT training code."""
import json
import os.path as osp

from .adversarial import AdversarialBenchmark, AttackSpec, check_attack, write_adversarial_reports
from .benchmark import CellBenchmark, CorruptionBenchmark, RobustnessError, list_results
from .corruptions import (ALL, BENCHMARK, CORRUPTION_SETS, HOLDOUT, SEVERITIES, check_severities,
                          corrupt_image, corruption_seed, library_version, resolve_corruptions)
from .report import comparison_table, plot_comparison, plot_result, write_markdown
from .summary import ALEXNET_IMAGENET_C_ERRORS, corruption_errors, summarize

__all__ = [
    'AdversarialBenchmark', 'AttackSpec', 'check_attack', 'write_adversarial_reports',
    'ALEXNET_IMAGENET_C_ERRORS', 'ALL', 'BENCHMARK', 'CORRUPTION_SETS', 'CellBenchmark',
    'CorruptionBenchmark',
    'HOLDOUT', 'RobustnessError', 'SEVERITIES', 'check_severities', 'comparison_table',
    'corrupt_image', 'corruption_errors', 'corruption_seed', 'library_version', 'list_results',
    'plot_comparison', 'plot_result', 'resolve_corruptions', 'summarize', 'write_markdown',
    'write_reports'
]


def write_reports(result: dict, out_dir: str) -> str:
    """Write ``robustness.json``, ``robustness.md`` and the plots; return a short text summary."""
    with open(osp.join(out_dir, 'robustness.json'), 'w') as file:
        json.dump(result, file, indent=2)
    write_markdown(result, osp.join(out_dir, 'robustness.md'))
    plot_result(result, out_dir)
    summary = result['summary']
    lines = []
    for name, values in summary['metrics'].items():
        scale = 100.0 if name.startswith(('mAP', 'AP')) else 1.0
        mpc = '–' if values['mPC'] is None else f'{scale * values["mPC"]:.2f}'
        rpc = '–' if values['rPC'] is None else f'{100 * values["rPC"]:.2f}%'
        lines.append(f'{name}: P {scale * values["P"]:.2f}  mPC {mpc}  rPC {rpc}')
    if 'corruption_errors' in result and result['corruption_errors']['mCE'] is not None:
        lines.append(f'mCE {result["corruption_errors"]["mCE"]:.2f} '
                     f'({result["corruption_errors"]["baseline"]})')
    if not summary['protocol']['full_benchmark']:
        lines.append('subset run: ' + '; '.join(summary['protocol']['subset_reasons']))
    lines.append(f'wrote {osp.join(out_dir, "robustness.json")} and robustness.md')
    return '\n'.join(lines)

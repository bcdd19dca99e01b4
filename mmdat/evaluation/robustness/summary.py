"""Robustness summaries from per-cell results: P, mPC and rPC (Michaelis et al. 2019), mean
corruption accuracy and mCE (Hendrycks & Dietterich 2019).

A *cell* is one (corruption, severity) evaluation: a dict of the evaluator's metrics. Averages run
over exactly the cells that were evaluated; a cell that was not evaluated is never counted as zero.
"""
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .corruptions import BENCHMARK, HOLDOUT, SEVERITIES

Cells = Mapping[Tuple[str, int], Mapping[str, float]]

# Top-1 error of AlexNet on ImageNet-C, the mean over the five severities, per benchmark corruption:
# the standard mCE normaliser (Hendrycks & Dietterich, ICLR 2019).
ALEXNET_IMAGENET_C_ERRORS = {
    'gaussian_noise': 0.886428, 'shot_noise': 0.894468, 'impulse_noise': 0.922640,
    'defocus_blur': 0.819880, 'glass_blur': 0.826268, 'motion_blur': 0.785948,
    'zoom_blur': 0.798360, 'snow': 0.866816, 'frost': 0.826572, 'fog': 0.819324,
    'brightness': 0.564592, 'contrast': 0.853204, 'elastic_transform': 0.646056,
    'pixelate': 0.717840, 'jpeg_compression': 0.606500,
}

# headline metrics per task, in the order reports show them: (evaluator key, short name)
DETECTION_METRICS = (('coco/bbox_mAP', 'mAP'), ('coco/bbox_mAP_50', 'AP50'),
                     ('coco/bbox_mAP_75', 'AP75'), ('coco/bbox_mAP_s', 'AP_s'),
                     ('coco/bbox_mAP_m', 'AP_m'), ('coco/bbox_mAP_l', 'AP_l'))
CLASSIFICATION_METRICS = (('accuracy/top1', 'top1'), ('accuracy/top5', 'top5'))


def headline_metrics(clean: Mapping[str, float]) -> List[Tuple[str, str]]:
    """The (key, short name) pairs to summarise, chosen from the keys of the clean result: COCO box
    AP for detectors, top-1/top-5 accuracy for classifiers, otherwise every numeric key."""
    for table in (DETECTION_METRICS, CLASSIFICATION_METRICS):
        found = [(key, name) for key, name in table if key in clean]
        if found:
            return found
    return [(key, key.split('/')[-1]) for key, value in clean.items()
            if isinstance(value, (int, float))]


def _mean(values: Sequence[float]) -> Optional[float]:
    return float(np.mean(values)) if len(values) else None


def summarize(clean: Mapping[str, float], cells: Cells,
              corruptions: Sequence[str], severities: Sequence[int],
              num_images: Optional[int] = None) -> dict:
    """P, mPC and rPC per headline metric, and the per-corruption and per-severity means.

    mPC averages the evaluated cells of the benchmark corruptions (all evaluated cells when no
    benchmark corruption was run); holdout corruptions get their own ``mPC_holdout``.

    Args:
        clean (dict): metrics of the clean evaluation (P).
        cells (dict): ``{(corruption, severity): metrics}`` of the evaluated cells.
        corruptions (list[str]): the corruptions the run asked for.
        severities (list[int]): the severities the run asked for.
        num_images (int, optional): the image subset size, None for the whole split.

    Returns:
        dict: ``metrics`` ({short name: {key, P, mPC, rPC, mPC_holdout, per_corruption,
        per_severity}}), ``protocol`` (whether this is the full benchmark, and why not).
    """
    benchmark_cells = [cell for cell in cells if cell[0] in BENCHMARK]
    holdout_cells = [cell for cell in cells if cell[0] in HOLDOUT]
    mpc_cells = benchmark_cells or list(cells)
    metrics = {}
    for key, name in headline_metrics(clean):
        value_p = float(clean[key])
        mpc = _mean([cells[cell][key] for cell in mpc_cells])
        metrics[name] = dict(
            key=key,
            P=value_p,
            mPC=mpc,
            rPC=(mpc / value_p if mpc is not None and value_p > 0 else None),
            mPC_holdout=_mean([cells[cell][key] for cell in holdout_cells]),
            per_corruption={
                corruption: _mean([cells[cell][key] for cell in cells if cell[0] == corruption])
                for corruption in corruptions if any(cell[0] == corruption for cell in cells)},
            per_severity={
                str(severity): _mean([cells[cell][key] for cell in mpc_cells
                                      if cell[1] == severity])
                for severity in severities if any(cell[1] == severity for cell in mpc_cells)})
    return dict(metrics=metrics, protocol=describe_protocol(cells, corruptions, severities,
                                                            num_images))


def describe_protocol(cells: Cells, corruptions: Sequence[str], severities: Sequence[int],
                      num_images: Optional[int]) -> dict:
    """Whether the evaluated cells form the full benchmark (15 corruptions x 5 severities on the whole
    split), and the reasons when they do not."""
    reasons = []
    missing = [name for name in BENCHMARK if name not in corruptions]
    if missing:
        reasons.append(f'{len(BENCHMARK) - len(missing)} of the {len(BENCHMARK)} benchmark '
                       f'corruptions (missing: {", ".join(missing)})')
    if sorted(severities) != list(SEVERITIES):
        reasons.append(f'severities {sorted(severities)} instead of 1-5')
    if num_images is not None:
        reasons.append(f'the first {num_images} images of the split')
    pending = [f'{c}/{s}' for c in corruptions for s in severities if (c, s) not in cells]
    if pending:
        reasons.append(f'{len(pending)} cells not evaluated yet')
    return dict(full_benchmark=not reasons, subset_reasons=reasons,
                evaluated_cells=len(cells), requested_cells=len(corruptions) * len(severities))


def corruption_errors(clean: Mapping[str, float], cells: Cells, key: str = 'accuracy/top1',
                      baseline: Optional[dict] = None) -> dict:
    """Classifier summary: mean corruption accuracy, and the corruption errors CE_c and their mean
    mCE normalised by a baseline.

    CE_c = sum_s E_{c,s} / sum_s E^base_{c,s} over the evaluated severities, E = 1 - accuracy.

    Args:
        clean (dict): clean metrics; accuracies in percent, as mmpretrain reports them.
        cells (dict): evaluated cells.
        key (str): the accuracy key. Defaults to ``'accuracy/top1'``.
        baseline (dict, optional): ``{'name', 'errors': {corruption: mean error in [0, 1]}}`` (the
            mean over the 5 severities, as published for AlexNet), or a ``robustness.json`` of another
            model (its cells are used cell by cell). None: AlexNet's published ImageNet-C errors.

    Returns:
        dict: ``mean_corruption_accuracy``, ``clean_error``, ``baseline``, ``ce`` per corruption
        (benchmark corruptions the baseline covers) and ``mCE`` (mean of ``ce``), in percent.
    """
    baseline_name, baseline_error = _baseline_errors(baseline)
    corruptions = sorted({cell[0] for cell in cells}, key=lambda name: (
        BENCHMARK + HOLDOUT).index(name))
    errors = {cell: 1.0 - cells[cell][key] / 100.0 for cell in cells}
    ce = {}
    for corruption in corruptions:
        evaluated = [cell for cell in cells if cell[0] == corruption]
        base = [baseline_error(corruption, severity) for _, severity in evaluated]
        if corruption in BENCHMARK and all(value is not None for value in base):
            ce[corruption] = 100.0 * sum(errors[cell] for cell in evaluated) / sum(base)
    return dict(
        mean_corruption_accuracy=_mean([cells[cell][key] for cell in cells
                                        if cell[0] in BENCHMARK] or
                                       [cells[cell][key] for cell in cells]),
        clean_error=100.0 - float(clean[key]),
        baseline=baseline_name,
        ce=ce,
        mCE=_mean(list(ce.values())))


def _baseline_errors(baseline: Optional[dict]):
    """(name, error(corruption, severity) -> error in [0, 1] or None) of a baseline description."""
    if baseline is None:
        baseline = dict(name='AlexNet (Hendrycks & Dietterich 2019)',
                        errors=ALEXNET_IMAGENET_C_ERRORS)
    if 'errors' in baseline:
        table = baseline['errors']
        return baseline.get('name', 'baseline'), lambda corruption, severity: table.get(corruption)
    if 'cells' in baseline:  # a robustness.json of another model
        key = 'accuracy/top1'
        cells = {(cell['corruption'], int(cell['severity'])): cell['metrics']
                 for cell in baseline['cells']}

        def error(corruption: str, severity: int) -> Optional[float]:
            metrics = cells.get((corruption, severity))
            return None if metrics is None else 1.0 - metrics[key] / 100.0

        return baseline.get('name', baseline.get('checkpoint', 'baseline')), error
    raise ValueError("a baseline must hold 'errors' ({corruption: mean error}) or be a "
                     "robustness.json with 'cells'")

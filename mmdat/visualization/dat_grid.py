"""The DAT picture: one row per sample, x | x̂ = Q(x) | x_adv | |x_adv − x| and |x_adv − x̂| amplified."""
from typing import Any, Dict, List

import cv2
import numpy as np
import torch


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _draw_boxes(panel: np.ndarray, sample: Any) -> np.ndarray:
    instances = getattr(sample, 'gt_instances', None)
    boxes = getattr(instances, 'bboxes', None) if instances is not None else None
    if boxes is None:
        return panel
    boxes = boxes.tensor if hasattr(boxes, 'tensor') else boxes
    panel = np.ascontiguousarray(panel)
    for x1, y1, x2, y2 in boxes.detach().cpu().round().int().tolist():
        cv2.rectangle(panel, (x1, y1), (x2, y2), (255, 220, 0), 1)
    return panel


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    panel = np.ascontiguousarray(panel)
    cv2.putText(panel, text, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(panel, text, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def _difference_panel(a: torch.Tensor, b: torch.Tensor, name: str) -> np.ndarray:
    """|a − b| scaled so its largest change is white; the factor is printed on it."""
    diff = (a - b).abs()
    peak = float(diff.max())
    gain = 1.0 / peak if peak > 0 else 1.0
    return _label(_to_uint8(diff * gain), f'{name} x{gain:.0f}')


def make_dat_grid(visuals: Dict[str, Any], gap: int = 2) -> np.ndarray:
    """Compose the grid from a DAT report's visuals (``x``, ``x_hat``, ``x_adv``: (K, 3, H, W) in [0, 1];
    ``valid``: (K, 1, H, W); ``data_samples``). Ground-truth boxes are drawn when the samples carry them.
    The last two panels show what discretization plus attack changed, and what the attack alone changed.
    ``x_hat`` is None for ``train_on='fused'``, which has no x̂: its Q(x) panels are left out.

    Returns:
        np.ndarray: uint8 RGB image (H', W', 3).
    """
    rows: List[np.ndarray] = []
    for i in range(visuals['x'].shape[0]):
        valid = visuals['valid'][i]
        x, x_adv = (visuals[k][i] * valid for k in ('x', 'x_adv'))
        sample = visuals['data_samples'][i]
        panels = [_label(_draw_boxes(_to_uint8(x), sample), 'x')]
        x_hat = visuals.get('x_hat')
        if x_hat is not None:  # train_on='fused' has no x̂
            panels.append(_label(_draw_boxes(_to_uint8(x_hat[i] * valid), sample), 'Q(x)'))
        panels += [_label(_draw_boxes(_to_uint8(x_adv), sample), 'x_adv'),
                   _difference_panel(x_adv, x, '|x_adv-x|')]
        if x_hat is not None:
            panels.append(_difference_panel(x_adv, x_hat[i] * valid, '|x_adv-Q(x)|'))
        height = panels[0].shape[0]
        spacer = np.full((height, gap, 3), 255, np.uint8)
        row = np.concatenate([p for panel in panels for p in (panel, spacer)][:-1], axis=1)
        rows.append(row)
        rows.append(np.full((gap, row.shape[1], 3), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=0)

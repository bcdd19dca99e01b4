"""Timing, FLOPs and peak memory for the benchmark tools."""
import ctypes
import ctypes.util
import json
import math
import os
import os.path as osp
import statistics
import time
from typing import Callable, Optional

import torch
from torch.utils.flop_counter import FlopCounterMode

M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def interleaved_times(functions: dict[str, Callable[[], object]], repeats: int,
                      device: torch.device = torch.device('cpu')) -> dict[str, list[float]]:
    """Wall times in seconds of each function over ``repeats`` interleaved rounds.

    Each function runs once first (warm-up: lazy builds, allocator, cuDNN's kernel choice); then
    every round runs all of them in turn, so that load changes on a shared machine hit them alike.
    """
    times = {label: [] for label in functions}
    for function in functions.values():
        function()
    for _ in range(repeats):
        for label, function in functions.items():
            synchronize(device)
            start = time.perf_counter()
            function()
            synchronize(device)
            times[label].append(time.perf_counter() - start)
    return times


def spread(values: list[float]) -> tuple[float, float, float]:
    """``(min, median, max)`` of ``values``."""
    return min(values), statistics.median(values), max(values)


def _conv_backward_flop(grad_out_shape, x_shape, w_shape, *args, **kwargs) -> int:
    """FLOPs of ``aten.convolution_backward``: the input and the weight gradient each cost what the
    forward costs, 2 · |output| · (C_in / groups) · kh · kw. torch's own formula drops ``groups``
    from the weight gradient and so counts a depthwise conv's C times over."""
    output_mask = kwargs.get('output_mask', args[7] if len(args) > 7 else (True, True))
    forward = 2 * math.prod(grad_out_shape) * math.prod(w_shape[1:])
    return forward * (int(output_mask[0]) + int(output_mask[1]))


def count_gflop(function: Callable[[], object]) -> float:
    """GFLOP of one call (matmuls, convolutions and attention, as ``FlopCounterMode`` counts them,
    with grouped-conv backward counted correctly)."""
    mapping = {torch.ops.aten.convolution_backward: _conv_backward_flop}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        function()
    return counter.get_total_flops() / 1e9


def image_size(text: str) -> tuple[int, int]:
    """``(height, width)`` from a command-line size: ``512`` (square) or ``1333x800`` (W x H)."""
    try:
        parts = [int(part) for part in text.lower().split('x')]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts, default=0) < 1:
        import argparse
        raise argparse.ArgumentTypeError(f'a size is SIDE or WIDTHxHEIGHT, e.g. 512 or 1333x800, but got '
                                         f'{text!r}')
    return (parts[0], parts[0]) if len(parts) == 1 else (parts[1], parts[0])


def size_label(size: tuple[int, int]) -> str:
    """``'1333x800'`` for ``(800, 1333)``."""
    return f'{size[1]}x{size[0]}'


def linear_fit(xs: list[float], ys: list[float]) -> dict:
    """Least-squares ``y = intercept + slope · x`` and its R²."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    intercept = mean_y - slope * mean_x
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    total = sum((y - mean_y) ** 2 for y in ys)
    return dict(slope=slope, intercept=intercept, r2=1 - residual / total if total else 1.0)


def mib_text(value: Optional[float]) -> str:
    """A peak-memory figure for a table: whole MiB, or ``'n/a'`` where it was not measurable."""
    return 'n/a' if value is None else f'{value:.0f}'


def write_rows(path: str, rows: list[dict]) -> None:
    """Write a benchmark's measurements as a JSON list of rows (``--out FILE.json``)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as file:
        json.dump(rows, file, indent=1)
    print(f'\nwrote {len(rows)} rows to {path}')


class PeakMemory:
    """Peak memory increase of a call: CUDA allocator peak, or the process's peak RSS on Linux."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def measure_timed(self, function: Callable, *args) -> tuple[object, float, Optional[float]]:
        """Run ``function(*args)`` once; return its result, its wall time in seconds (the device
        synchronised) and the peak memory increase in MiB, both from that one call."""
        outcome = {}

        def timed() -> None:
            start = time.perf_counter()
            outcome['result'] = function(*args)
            synchronize(self.device)
            outcome['seconds'] = time.perf_counter() - start

        peak = self.measure(timed)
        return outcome['result'], outcome['seconds'], peak

    def measure(self, function: Callable, *args) -> Optional[float]:
        """Run ``function(*args)``; return the peak increase in MiB (None if unmeasurable)."""
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            function(*args)
            torch.cuda.synchronize()
            return (torch.cuda.max_memory_allocated() - before) / 2**20
        self._release_free_heap()
        try:
            with open('/proc/self/clear_refs', 'w') as clear_refs:
                clear_refs.write('5')  # resets VmHWM (peak RSS) to the current RSS
        except OSError:
            function(*args)
            return None
        before = self._status_kib('VmRSS')
        function(*args)
        return (self._status_kib('VmHWM') - before) / 1024

    @staticmethod
    def _release_free_heap() -> None:
        """Make the process's RSS follow its live memory (glibc): return freed heap pages to the
        OS and serve every allocation above 64 KiB by mmap, so freed tensors leave the RSS at
        once and earlier runs cannot hide this one's peak."""
        libc_name = ctypes.util.find_library('c')
        libc = ctypes.CDLL(libc_name) if libc_name else None
        if libc is not None and hasattr(libc, 'mallopt'):
            libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024)
            libc.malloc_trim(0)

    @staticmethod
    def _status_kib(field: str) -> int:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
        raise RuntimeError(f'{field} not in /proc/self/status')

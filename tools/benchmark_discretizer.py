"""Benchmark mmdat's VQGAN discretizer against taming's plain forward chain.

Both run on the same random weights in the same process. The random codebook (all codes near the
origin) is replaced by draws from a Gaussian fitted to the encoder's latents, so near ties between
codes are about as common as with a trained codebook; the images are smooth random images.

For each image size and batch size this prints the reference's ms/image, peak memory increase and
FLOPs per image (``FlopCounterMode``; it does not see CPU fused attention, and mmdat's variants do
the same work), then for each variant of mmdat's discretizer its time and memory relative to the
reference and the share of code indices equal to the reference's. Timings take the minimum over
interleaved rounds, which keeps the ratios meaningful on a shared machine.

Example::

    python tools/benchmark_discretizer.py --size 224 256 --batch 1 2 --threads 2
    python tools/benchmark_discretizer.py --quick
"""
import argparse
import ctypes
import ctypes.util
import os
import time
import warnings
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from mmdat.models.discretizers import VQGANDiscretizer

#: mmdat variants: name -> VQGANDiscretizer options (on top of its defaults).
VARIANTS = {
    'default (exact)': dict(),
    'sdpa': dict(attention='sdpa'),
    'channels-last': dict(channels_last=True),
    'sdpa + channels-last': dict(attention='sdpa', channels_last=True),
    'sdpa + channels-last + bf16': dict(attention='sdpa', channels_last=True, precision='bf16'),
}
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
QUICK_ARCHITECTURE = dict(
    ddconfig=dict(double_z=False, z_channels=4, resolution=64, in_channels=3, out_ch=3, ch=32,
                  ch_mult=[1, 2, 2], num_res_blocks=1, attn_resolutions=[16], dropout=0.0),
    n_embed=64, embed_dim=4)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--preset', default='openimages-f8-16384')
    parser.add_argument('--size', type=int, nargs='+', default=[224, 256])
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs (the minimum counts)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--against', metavar='PRESET',
                        help="also time another preset's default path in the same process and "
                             "print mmdat's default as a ratio of it (e.g. a new discretizer "
                             'against the one it replaces)')
    parser.add_argument('--quick', action='store_true',
                        help='tiny architecture at 64x64, one repeat: runs in seconds')
    return parser.parse_args()


def reference_chain(discretizer: VQGANDiscretizer) -> Callable[[torch.Tensor], tuple]:
    """taming's plain Encoder -> quant_conv -> quantize -> post_quant_conv -> Decoder, returning
    ``(x̂ in [0, 1], codes)``."""
    network = discretizer.network

    @torch.no_grad()
    def run(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latents = network.quant_conv(network.encoder(images * 2 - 1))
        z_q, _, (_, _, indices) = network.quantize(latents)
        decoded = network.decoder(network.post_quant_conv(z_q))
        return decoded.clamp(-1, 1).add(1).div(2), indices

    return run


class PeakMemory:
    """Peak memory increase of a call: CUDA allocator peak, or the process's peak RSS on Linux."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

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


def best_times(functions: dict[str, Callable], images: torch.Tensor,
               repeats: int) -> dict[str, float]:
    """Minimum wall time in seconds of each function over ``repeats`` interleaved rounds (after
    one warm-up run each), so that load changes on a shared machine hit all of them alike."""
    times = {label: [] for label in functions}
    for function in functions.values():
        function(images)
    for _ in range(repeats):
        for label, function in functions.items():
            if images.device.type == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            function(images)
            if images.device.type == 'cuda':
                torch.cuda.synchronize()
            times[label].append(time.perf_counter() - start)
    return {label: min(values) for label, values in times.items()}


def gflops_per_image(function: Callable, images: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter:
        function(images)
    return counter.get_total_flops() / images.shape[0] / 1e9


def build(args: argparse.Namespace, options: dict) -> VQGANDiscretizer:
    architecture = QUICK_ARCHITECTURE if args.quick else dict(preset=args.preset)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random weights on purpose
        discretizer = VQGANDiscretizer(**architecture, **options)
        discretizer.network
    return discretizer


def smooth_images(batch: int, size: int, seed: int = 0) -> torch.Tensor:
    """Random images in [0, 1] with natural-image-like smoothness (upsampled 8x8 blocks)."""
    coarse = torch.rand(batch, 3, max(1, size // 8), max(1, size // 8),
                        generator=torch.Generator().manual_seed(seed))
    return F.interpolate(coarse, size=(size, size), mode='bilinear', align_corners=False)


@torch.no_grad()
def fit_codebook(discretizers: list[VQGANDiscretizer], images: torch.Tensor) -> None:
    """Give every discretizer the same codebook: K draws from a Gaussian fitted to the latents
    of ``images``."""
    network = discretizers[0].network
    latents = network.quant_conv(network.encoder(images * 2 - 1))
    tokens = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
    covariance = torch.cov(tokens.T) + 1e-6 * torch.eye(tokens.shape[1])
    noise = torch.randn(network.n_embed, tokens.shape[1],
                        generator=torch.Generator().manual_seed(0))
    codebook = tokens.mean(0) + noise @ torch.linalg.cholesky(covariance).T
    for discretizer in discretizers:
        discretizer.network.quantize.embedding.weight.copy_(codebook)


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.size, args.batch, args.repeats = [64], [1, 2], 1
    device = torch.device(args.device)
    name = 'quick (tiny)' if args.quick else args.preset
    print(f'discretizer: {name}, random weights; device {device}, '
          f'{torch.get_num_threads()} threads, torch {torch.__version__}, pid {os.getpid()}')
    reference_discretizer = build(args, dict())
    variants = {label: build(args, options) for label, options in VARIANTS.items()}
    print(f'defaults: {reference_discretizer!r}')
    if reference_discretizer.network.quantizer_type == 'vq':
        fit_codebook([reference_discretizer, *variants.values()],
                     smooth_images(2, args.size[0], seed=1))
    reference_discretizer.network.to(device)
    reference = reference_chain(reference_discretizer)
    against = {}
    if args.against:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # random weights on purpose
            against[f'against {args.against}'] = VQGANDiscretizer(preset=args.against).discretize
    memory = PeakMemory(device)
    for size in args.size:
        for batch in args.batch:
            images = smooth_images(batch, size).to(device)
            reference_images, reference_codes = reference(images)
            times = best_times({'reference': reference, **{
                label: variant.discretize for label, variant in variants.items()}, **against},
                images, args.repeats)
            reference_time = times['reference'] / batch
            reference_memory = memory.measure(reference, images)
            print(f'\n{size}x{size}, batch {batch}: reference {reference_time * 1e3:.0f} ms/image, '
                  f'peak +{_mib(reference_memory)}, '
                  f'{gflops_per_image(reference, images):.1f} GFLOP/image')
            print(f'  {"variant":<30}{"ms/image":>10}{"time ours/ref":>15}{"peak":>10}'
                  f'{"mem ours/ref":>14}{"codes equal":>13}{"max|dx|":>10}')
            for label, variant in variants.items():
                agreement = (variant.codes(images) == reference_codes).float().mean().item()
                difference = (variant.discretize(images) - reference_images).abs().max().item()
                seconds = times[label] / batch
                peak = memory.measure(variant.discretize, images)
                memory_ratio = (f'{peak / reference_memory:.2f}'
                                if peak is not None and reference_memory else 'n/a')
                print(f'  {label:<30}{seconds * 1e3:>10.0f}{seconds / reference_time:>15.2f}'
                      f'{_mib(peak):>10}{memory_ratio:>14}{agreement:>13.4f}{difference:>10.1e}')
            for label in against:
                seconds = times[label] / batch
                ratio = times['default (exact)'] / times[label]
                print(f'  {label}: {seconds * 1e3:.0f} ms/image; {name} default (exact) takes '
                      f'{ratio:.2f}x its time')
            if batch > 1:
                alone = torch.cat([reference(image[None])[1] for image in images])
                print('  noise floor: taming itself, one image at a time vs the batch: codes '
                      f'equal {(alone == reference_codes).float().mean().item():.4f}')


def _mib(value: Optional[float]) -> str:
    return 'n/a' if value is None else f'{value:.0f} MiB'


if __name__ == '__main__':
    main()

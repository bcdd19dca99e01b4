"""Benchmark mmdat's VQGAN discretizer paths against taming's plain forward chain.

Every path runs on the same weights and images in one process: the shipped weights for the
``embedded-*`` presets, random weights otherwise (the random codebook is then replaced by draws
from a Gaussian fitted to the encoder's latents, so near ties between codes are about as common as
with a trained codebook). The images are rendered embedded-dataset scenes (real photos and
textures). Each size and batch is warmed up once per path, then the paths run interleaved for
``--repeats`` rounds, so load changes on a shared machine hit them alike; min / median / max are
printed and the minimum counts.

Per path: ms per image, speed-up against taming, ``exact`` (codes identical to taming's), the
share of codes equal to taming's, the largest pixel difference of x̂ from taming's, and the peak
memory increase. For scale, the last row of each block is the share of codes kept by an L2 step of
0.1 per image in a random direction (the official attack's size): numeric flips far below it
cannot matter to DAT.

Example::

    python tools/benchmark_discretizer.py --quick
    python tools/benchmark_discretizer.py --preset embedded-tiny-f4-4096 --size 160 224 256 \\
        --batch 1 8 --threads 2 --out work_dirs/benchmarks/discretizer_f4.json
"""
import argparse
import os
import os.path as osp
import warnings
from typing import Callable, Optional

import numpy as np
import torch

from mmdat.models.discretizers import VQGANDiscretizer
from mmdat.models.discretizers.inference import native_bf16
from mmdat.utils.profiling import PeakMemory, count_gflop, interleaved_times, spread, write_rows

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: The shipped weights of the embedded presets (the others are benchmarked with random weights).
SHIPPED_CHECKPOINTS = {
    'embedded-tiny-f4-4096': 'checkpoints/vqgan_tiny_f4_embedded.pth',
    'embedded-tiny-f8-512': 'checkpoints/vqgan_tiny_f8_embedded.pth',
}
#: mmdat paths: name -> VQGANDiscretizer options (on top of its defaults).
PATHS = {
    'default': dict(),
    'taming decoder': dict(decoder='taming'),
    'bf16 decoder': dict(decoder='bf16'),
    'sdpa encoder': dict(attention='sdpa'),
    'channels-last encoder': dict(channels_last=True),
    'bf16 encoder + decoder': dict(precision='bf16', decoder='bf16'),
}
ATTACK_EPS = 0.1
QUICK_ARCHITECTURE = dict(
    ddconfig=dict(double_z=False, z_channels=4, resolution=64, in_channels=3, out_ch=3, ch=32,
                  ch_mult=[1, 2, 2], num_res_blocks=1, attn_resolutions=[16], dropout=0.0),
    n_embed=64, embed_dim=4)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--preset', default='embedded-tiny-f4-4096')
    parser.add_argument('--size', type=int, nargs='+', default=[160, 224, 256])
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--repeats', type=int, default=3, help='timed interleaved rounds')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--paths', nargs='+', choices=list(PATHS),
                        help='mmdat paths to time (default: all; the bf16 ones only where the '
                        'device has native bf16, since emulated bf16 is slower than fp32)')
    parser.add_argument('--out', metavar='FILE.json', help='write one JSON row per measurement')
    parser.add_argument('--quick', action='store_true',
                        help='tiny random architecture at 64x64, one round: runs in seconds')
    return parser.parse_args()


def taming_chain(network: torch.nn.Module) -> Callable[[torch.Tensor], tuple]:
    """taming's plain Encoder -> quant_conv -> quantize -> post_quant_conv -> Decoder, returning
    ``(x̂ in [0, 1], codes N×h×w)``."""

    @torch.no_grad()
    def run(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latents = network.quant_conv(network.encoder(images * 2 - 1))
        if network.quantizer_type == 'gumbel':
            indices = network.gumbel_codes(latents)
            z_q = network.gumbel_embedding(indices)
        else:
            z_q, _, (_, _, indices) = network.quantize(latents)
        decoded = network.decoder(network.post_quant_conv(z_q))
        return decoded.clamp(-1, 1).add(1).div(2), indices.view(latents.shape[0], -1)

    return run


def build(args: argparse.Namespace, options: dict) -> VQGANDiscretizer:
    if args.quick:
        architecture = dict(QUICK_ARCHITECTURE)
    else:
        checkpoint = SHIPPED_CHECKPOINTS.get(args.preset)
        architecture = dict(preset=args.preset,
                            checkpoint=osp.join(ROOT, checkpoint) if checkpoint else None)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random weights on purpose
        discretizer = VQGANDiscretizer(**architecture, **options)
        discretizer.network
    return discretizer


def scene_images(batch: int, size: int, seed: int = 0) -> torch.Tensor:
    """Embedded-dataset scenes (one object on a textured background) as RGB in [0, 1]."""
    from mmdat.datasets.embedded_scenes import CATEGORIES, compose_classification_image
    from mmdat.datasets.embedded_sources import load_source_library
    library, rng = load_source_library(), np.random.default_rng(seed)
    images = [compose_classification_image(library, rng, size, index % len(CATEGORIES))
              for index in range(batch)]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous().float() / 255


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


def attack_sized_agreement(discretizer: VQGANDiscretizer, images: torch.Tensor) -> float:
    """Share of codes of Q(x̂) that Q(x̂ + δ) keeps, for δ of L2 norm ``ATTACK_EPS`` per image in
    a random direction."""
    reconstruction = discretizer.discretize(images)
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    noise = noise.to(images.device)
    noise *= ATTACK_EPS / noise.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    perturbed_codes = discretizer.codes((reconstruction + noise).clamp(0, 1))
    return (perturbed_codes == discretizer.codes(reconstruction)).float().mean().item()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.size, args.batch, args.repeats = [64], [1, 2], 1
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    name = 'quick (tiny, random)' if args.quick else args.preset
    weights = 'shipped' if not args.quick and args.preset in SHIPPED_CHECKPOINTS else 'random'
    print(f'discretizer: {name}, {weights} weights; device {device}, '
          f'{torch.get_num_threads()} threads, torch {torch.__version__}, pid {os.getpid()}')
    if args.paths is None:
        args.paths = [label for label, options in PATHS.items()
                      if native_bf16(device) or 'bf16' not in options.values()]
        if len(args.paths) < len(PATHS):
            print('bf16 paths left out: no native bf16 on this device (name them in --paths '
                  'to measure them anyway)')
    reference_discretizer = build(args, dict(decoder='taming'))  # contiguous weights
    paths = {label: build(args, PATHS[label]) for label in args.paths}
    if weights == 'random' and reference_discretizer.network.quantizer_type == 'vq':
        fit_codebook([reference_discretizer, *paths.values()], scene_images(2, args.size[0], 1))
    for discretizer in (reference_discretizer, *paths.values()):
        discretizer.network.to(device)
    reference = taming_chain(reference_discretizer.network)
    memory = PeakMemory(device)
    rows = []
    for size in args.size:
        for batch in args.batch:
            images = scene_images(batch, size).to(device)
            reference_images, reference_codes = reference(images)
            runs = {'taming': reference, **{label: discretizer.discretize
                                            for label, discretizer in paths.items()}}
            times = interleaved_times({label: (lambda run=run: run(images))
                                       for label, run in runs.items()}, args.repeats, device)
            reference_ms = min(times['taming']) / batch * 1e3
            gflop = count_gflop(lambda: reference(images)) / batch
            print(f'\n{size}x{size}, batch {batch}: taming {reference_ms:.1f} ms/image, '
                  f'{gflop:.1f} GFLOP/image')
            print(f'  {"path":<24}{"ms/image min/med/max":>24}{"speed-up":>10}{"exact":>7}'
                  f'{"codes equal":>13}{"max|dx|":>10}{"peak MiB":>10}')
            for label in ('taming', *paths):
                if label == 'taming':
                    discretize, agreement, difference = reference, 1.0, 0.0
                else:
                    discretizer = paths[label]
                    discretize = discretizer.discretize
                    output, codes = discretizer.discretize_with_codes(images)
                    agreement = (codes.view(batch, -1) == reference_codes).float().mean().item()
                    difference = (output - reference_images).abs().max().item()
                fastest, median, slowest = (seconds / batch * 1e3
                                            for seconds in spread(times[label]))
                row = dict(preset=name, weights=weights, device=str(device),
                           threads=torch.get_num_threads(), size=size, batch=batch, path=label,
                           gflop_per_image=gflop, exact=agreement == 1.0, ms=fastest,
                           ms_median=median, ms_max=slowest,
                           speedup_vs_taming=reference_ms / fastest,
                           code_agreement=agreement, max_abs_dx=difference,
                           peak_mem_mb=memory.measure(discretize, images))
                rows.append(row)
                timing = f'{row["ms"]:.1f}/{row["ms_median"]:.1f}/{row["ms_max"]:.1f}'
                print(f'  {label:<24}{timing:>24}{row["speedup_vs_taming"]:>10.2f}'
                      f'{"yes" if row["exact"] else "no":>7}{agreement:>13.5f}'
                      f'{difference:>10.1e}{_mib(row["peak_mem_mb"]):>10}')
            kept = attack_sized_agreement(reference_discretizer, images)
            rows.append(dict(preset=name, weights=weights, device=str(device),
                             threads=torch.get_num_threads(), size=size, batch=batch,
                             path=f'L2 step {ATTACK_EPS} (random direction)', exact=False,
                             ms=None, speedup_vs_taming=None, code_agreement=kept))
            print(f'  for scale: an L2 step of {ATTACK_EPS} per image (the official attack\'s '
                  f'size) keeps {kept:.4f} of the codes of Q(x̂)')
    if args.out:
        write_rows(args.out, rows)


def _mib(value: Optional[float]) -> str:
    return 'n/a' if value is None else f'{value:.0f}'


if __name__ == '__main__':
    main()

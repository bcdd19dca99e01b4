"""What DAT sees through a discretizer: reconstruction fidelity and realism (PSNR, colour shift, a
Fréchet distance in EfficientNet-Lite0 features, the high-frequency energy ratio, codebook usage,
perplexity, code geometry, CPU time) on a detection dataset's val split and per texture of the
embedded generator, and, on trained models, the code flip rate and loss change of the official
attack against random noise of the same norm.

Example (the table of configs/vqgan/README.md):
    python tools/analysis/discretizer_report.py --out work_dirs/discretizer_report \
        --det CONFIG CHECKPOINT --cls CONFIG CHECKPOINT --eps 0.05 0.1 0.2 0.5

For each discretizer (``--discretizer NAME=PRESET:CHECKPOINT``, default: the shipped ones) and each
model and eps: x̂ = Q(x); δ from the official attack (one L2 step of eps, random start with
probability 0.8) on the model's full loss at x̂; x_adv = Q(x̂ + δ); the same through a random
direction of the same norm. Models run in eval mode (running BatchNorm statistics).
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
from mmdat.apis import ConfigError, readable_errors
from mmdat.models.discretizers import shipped_checkpoint

#: the shipped discretizers, in the order of the report's columns (oldest first)
SHIPPED = {name: shipped_checkpoint(name)
           for name in ('embedded-tiny-f8-512', 'embedded-tiny-f4-4096', 'embedded-small-f4-4096')}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='directory for report.json/.md and grids')
    parser.add_argument('--discretizer', nargs='+', metavar='PRESET[=CHECKPOINT]',
                        help='discretizers to compare (default: the shipped ones)')
    parser.add_argument('--det', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                        help='a trained detector (plain config) to attack')
    parser.add_argument('--cls', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                        help='a trained classifier (plain config) to attack')
    parser.add_argument('--eps', nargs='+', type=float, default=[0.05, 0.1, 0.2, 0.5])
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'embedded_det'),
                        help='embedded detection dataset for the fidelity figures')
    parser.add_argument('--num-images', type=int, default=100, help='val images to use')
    parser.add_argument('--per-texture', type=int, default=16,
                        help='images per texture in the per-texture table')
    parser.add_argument('--batch-size', type=int, default=10)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def build_discretizers(specs):
    from mmdat.models.discretizers import VQGANDiscretizer
    discretizers = {}
    for spec in specs or [f'{name}={path}' for name, path in SHIPPED.items()]:
        preset, _, checkpoint = spec.partition('=')
        checkpoint = checkpoint or SHIPPED.get(preset)
        if checkpoint and not osp.isabs(checkpoint) and not osp.isfile(checkpoint):
            checkpoint = osp.join(ROOT, checkpoint)
        if not checkpoint or not osp.isfile(checkpoint):
            raise ConfigError(f'no checkpoint for discretizer {preset!r}: pass {preset}=PATH')
        discretizers[preset] = VQGANDiscretizer(preset=preset, checkpoint=checkpoint)
    return discretizers


def val_images(data_root: str, num_images: int) -> torch.Tensor:
    """The first val images of the embedded detection set (generated with the default settings
    where ``data_root`` holds none), RGB in [0, 1], (N, 3, H, W)."""
    import numpy as np
    from PIL import Image

    from mmdat.datasets import prepare_embedded_dataset
    from mmdat.datasets.embedded_generate import read_settings
    if read_settings(data_root) is None:  # an existing set of any size is used as it is
        prepare_embedded_dataset(data_root, task='det')
    folder = osp.join(data_root, 'val')
    names = sorted(os.listdir(folder))[:num_images]
    images = [np.asarray(Image.open(osp.join(folder, name)).convert('RGB')) for name in names]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255


def reconstruction_metrics(discretizer, images: torch.Tensor, batch_size: int,
                           frechet: bool) -> tuple:
    """``ReconstructionMetric``'s figures for ``images``, the reconstructions and the seconds the
    discretizer took."""
    from mmdat.evaluation import ReconstructionMetric
    metric = ReconstructionMetric(codebook_size=discretizer.network.n_embed, frechet=frechet)
    outputs, seconds = [], 0.0
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        began = time.perf_counter()
        with torch.no_grad():
            reconstruction, codes = discretizer.discretize_with_codes(batch)
        seconds += time.perf_counter() - began
        metric.process(None, [dict(input=image, reconstruction=rec, indices=code)
                              for image, rec, code in zip(batch, reconstruction, codes)])
        outputs.append(reconstruction)
    return metric.compute_metrics(metric.results), torch.cat(outputs), seconds


def fidelity(discretizer, images: torch.Tensor, batch_size: int) -> tuple:
    """``ReconstructionMetric``'s figures with the Fréchet distance, the time per image, the
    codebook's nearest-neighbour distances; and the reconstructions."""
    network = discretizer.network
    metrics, reconstructions, seconds = reconstruction_metrics(discretizer, images, batch_size,
                                                               frechet=True)
    num_codes = network.n_embed
    codebook = network.quantize.embedding.weight.detach().double()
    distances = torch.cdist(codebook, codebook)
    distances.fill_diagonal_(float('inf'))
    nearest = distances.min(dim=1).values
    return dict(K=num_codes, d=codebook.shape[1], f=network.downsample_factor, **metrics,
                ms_per_image=1000 * seconds / len(images),
                nn_distance_median=float(nearest.median()), nn_distance_min=float(nearest.min()),
                code_norm_median=float(codebook.norm(dim=1).median()),
                parameters=sum(p.numel() for p in network.parameters())), reconstructions


def texture_fidelity(discretizer, per_texture: int, size: int, batch_size: int) -> dict:
    """Per texture of the embedded generator: PSNR, colour shift and high-frequency ratio."""
    from mmdat.datasets.embedded_scenes import texture_samples
    from mmdat.datasets.embedded_sources import load_source_library
    rows = {}
    for name, samples in texture_samples(load_source_library(), per_texture, size).items():
        images = torch.from_numpy(samples).permute(0, 3, 1, 2).float() / 255
        metrics, _, _ = reconstruction_metrics(discretizer, images, batch_size, frechet=False)
        rows[name] = {key: metrics[key] for key in ('psnr', 'color_shift', 'hf_ratio')}
    return rows


def save_spectra(images: torch.Tensor, reconstructions: dict, path: str) -> None:
    """Radially averaged power spectra of x and of each discretizer's Q(x), log scale."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from mmdat.evaluation.realism import HIGH_FREQUENCY_CUTOFF, radial_power_spectrum
    figure, axis = plt.subplots(figsize=(6, 4))
    power, centres = radial_power_spectrum(images)
    axis.semilogy(centres, power.mean(dim=0), 'k-', label='x')
    for name, reconstruction in reconstructions.items():
        axis.semilogy(centres, radial_power_spectrum(reconstruction)[0].mean(dim=0),
                      label=f'Q(x), {name}')
    axis.axvline(HIGH_FREQUENCY_CUTOFF, color='grey', linestyle=':', label='high frequencies from')
    axis.set_xlabel('spatial frequency (share of Nyquist)')
    axis.set_ylabel('power (grey level)')
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def build_model(config: str, checkpoint: str):
    from mmengine.config import Config

    from mmdat.apis import build_model as build_config_model
    cfg = Config.fromfile(config)
    model = build_config_model(cfg, checkpoint)
    model.eval()
    return cfg, model


def attack_statistics(cfg, model, discretizers, eps_values, num_images, seed) -> list:
    """Per discretizer and eps: code flips and loss change of the official attack and of random
    noise of the same per-image norm, averaged over the val batches."""
    from mmengine.runner import Runner

    from mmdat.models.attacks import build_attack, per_sample_norm
    from mmdat.models.full_loss import full_loss
    from mmdat.models.pixel_domain import PixelDomain
    loader_cfg = cfg.test_dataloader.copy()
    loader_cfg.dataset.indices = num_images
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    dataloader = Runner.build_dataloader(loader_cfg)
    domain = PixelDomain.of(model.data_preprocessor)
    batches = []
    for data in dataloader:
        with torch.no_grad():
            batches.append(model.data_preprocessor(data, False))
    rows = []
    for name, discretizer in discretizers.items():
        for eps in eps_values:
            attack = build_attack(dict(type='L2Attack', eps=eps, step_size=eps, steps=1,
                                       random_start_prob=0.8))
            generator = torch.Generator().manual_seed(seed)
            totals = dict(loss_x=0.0, loss_xhat=0.0, loss_adv=0.0, loss_noise=0.0,
                          flip_adv=0.0, flip_noise=0.0)
            for batch in batches:
                inputs, samples = batch['inputs'], batch['data_samples']
                valid = domain.valid_mask(inputs, samples)

                def loss_at(images):
                    return full_loss(model, domain.from_unit_rgb(images, inputs, valid), samples)

                x = domain.to_unit_rgb(inputs)
                x_hat, codes_hat = discretizer.discretize_with_codes(x)
                x_hat = torch.where(valid, x_hat, x)
                codes_center = discretizer.codes(x_hat)
                result = attack.run(x_hat, loss_at, valid, generator)
                noise = torch.randn(x.shape, generator=generator) * valid
                noise = noise * per_sample_norm(result.delta) / per_sample_norm(noise).clamp_min(
                    1e-12)
                x_adv, codes_adv = discretizer.discretize_with_codes((x_hat + result.delta).clamp(0, 1))
                x_noise, codes_noise = discretizer.discretize_with_codes((x_hat + noise).clamp(0, 1))
                with torch.no_grad():
                    totals['loss_x'] += float(loss_at(x))
                    totals['loss_xhat'] += float(loss_at(x_hat))
                    totals['loss_adv'] += float(loss_at(torch.where(valid, x_adv, x)))
                    totals['loss_noise'] += float(loss_at(torch.where(valid, x_noise, x)))
                totals['flip_adv'] += float((codes_adv != codes_center).float().mean())
                totals['flip_noise'] += float((codes_noise != codes_center).float().mean())
            means = {key: value / len(batches) for key, value in totals.items()}
            rows.append(dict(discretizer=name, eps=eps, **means,
                             loss_change_adv=means['loss_adv'] - means['loss_xhat'],
                             loss_change_noise=means['loss_noise'] - means['loss_xhat']))
    return rows


def save_grid(grids: dict, path: str) -> None:
    """Rows x | Q(x) per discretizer for the same images."""
    import numpy as np
    from PIL import Image
    rows = []
    for images, reconstructions in grids.values():
        pairs = [torch.cat([image, reconstruction], dim=2).numpy()
                 for image, reconstruction in zip(images, reconstructions)]
        rows.append(np.concatenate([np.pad(pair, ((0, 0), (2, 2), (2, 2)), constant_values=1)
                                    for pair in pairs], axis=2))
    picture = np.concatenate(rows, axis=1)
    Image.fromarray((picture.transpose(1, 2, 0) * 255).round().astype('uint8')).save(path)


def markdown(fidelity_rows: dict, texture_rows: dict, attack_rows: dict) -> str:
    lines = ['| discretizer | f | K | d | params | PSNR (dB) | colour shift mean / worst 5 % '
             '(0-255) | Fréchet distance (Lite0) | HF ratio | usage | perplexity | '
             'NN distance (median / min) | ms per image |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for name, row in fidelity_rows.items():
        lines.append(f'| {name} | {row["f"]} | {row["K"]} | {row["d"]} | '
                     f'{row["parameters"] / 1e6:.2f} M | {row["psnr"]:.2f} | '
                     f'{row["color_shift"]:.2f} / {row["color_shift_worst5"]:.2f} | '
                     f'{row["frechet_distance"]:.1f} | {row["hf_ratio"]:.3f} | '
                     f'{row["codebook_usage"]:.3f} | '
                     f'{row["perplexity"]:.0f} | {row["nn_distance_median"]:.3f} / '
                     f'{row["nn_distance_min"]:.3f} | {row["ms_per_image"]:.0f} |')
    names = list(texture_rows)
    if names:
        lines += ['', 'Per texture (PSNR dB / colour shift / HF ratio):', '',
                  '| texture | ' + ' | '.join(names) + ' |', '|---|' + '---|' * len(names)]
        for texture in next(iter(texture_rows.values())):
            cells = [texture_rows[name][texture] for name in names]
            lines.append(f'| {texture} | ' + ' | '.join(
                f'{cell["psnr"]:.2f} / {cell["color_shift"]:.2f} / {cell["hf_ratio"]:.2f}'
                for cell in cells) + ' |')
    for model, rows in attack_rows.items():
        lines += ['', f'**{model}** (mean over val batches; loss change = L(x_adv) - L(x̂)):', '',
                  '| discretizer | eps | L(x) | L(x̂) | L(x_adv) | L(noise) | Δ attack | Δ noise | '
                  'flips attack | flips noise |', '|---|---|---|---|---|---|---|---|---|---|']
        for row in rows:
            lines.append(
                f'| {row["discretizer"]} | {row["eps"]} | {row["loss_x"]:.3f} | '
                f'{row["loss_xhat"]:.3f} | {row["loss_adv"]:.3f} | {row["loss_noise"]:.3f} | '
                f'{row["loss_change_adv"]:+.4f} | {row["loss_change_noise"]:+.4f} | '
                f'{100 * row["flip_adv"]:.2f}% | {100 * row["flip_noise"]:.2f}% |')
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    with readable_errors():
        import mmdat  # noqa: F401
        os.makedirs(args.out, exist_ok=True)
        torch.manual_seed(args.seed)
        discretizers = build_discretizers(args.discretizer)
        images = val_images(args.data_root, args.num_images)
        fidelity_rows, texture_rows, reconstructions = {}, {}, {}
        for name, discretizer in discretizers.items():
            fidelity_rows[name], reconstructions[name] = fidelity(discretizer, images,
                                                                  args.batch_size)
            texture_rows[name] = texture_fidelity(discretizer, args.per_texture,
                                                  images.shape[-1], args.batch_size)
            print(name, json.dumps(fidelity_rows[name]))
        save_grid({name: (images[:6], rec[:6]) for name, rec in reconstructions.items()},
                  osp.join(args.out, 'reconstructions.png'))
        save_spectra(images, reconstructions, osp.join(args.out, 'spectra.png'))
        attack_rows = {}
        for label, spec in (('YOLOv3', args.det), ('ResNet-18', args.cls)):
            if spec:
                cfg, model = build_model(*spec)
                attack_rows[label] = attack_statistics(cfg, model, discretizers, args.eps,
                                                       args.num_images, args.seed)
        with open(osp.join(args.out, 'report.json'), 'w') as file:
            json.dump(dict(fidelity=fidelity_rows, textures=texture_rows, attack=attack_rows), file,
                      indent=2)
        table = markdown(fidelity_rows, texture_rows, attack_rows)
        with open(osp.join(args.out, 'report.md'), 'w') as file:
            file.write(table + '\n\n![x | Q(x)](reconstructions.png)\n')
        print(table)


if __name__ == '__main__':
    main()

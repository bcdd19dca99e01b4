"""Discrete against pixel adversarial examples (the paper's Figure 5): how natural each kind is, and what
its perturbation looks like.

Example (the figure and table of docs/attacks.md):
    python tools/analysis/perturbations.py CONFIG CHECKPOINT --out work_dirs/perturbations \
        --num-images 32 --codeflip codeflip-0.05

For the first ``--num-images`` val images of a trained model (its full training loss, eval mode) and the
discretizer Q of docs/attacks.md, ``embedded-tiny-f4-4096`` (or ``--discretizer PRESET CHECKPOINT``),
five image sets:

- x, and x̂ = Q(x);
- the official DAE: Q(x̂ + δ), δ one L2 step of ``--official-eps`` (random start with probability 0.8);
- the code-flip DAE: the words of x swapped by :class:`CodeFlipAttack` (``--codeflip``, an attack name);
- the PAE: 10 steps of L2 PGD on x itself, no Q, with the per-batch mean ‖code-flip DAE − x‖ as budget
  (a matched L2 budget).

Per set: distinct colours per image, the Fréchet distance of its EfficientNet-Lite0 features to x's
(:mod:`mmdat.evaluation.realism`), the high-frequency share of the image and of its change from x (power
above half the Nyquist frequency), the words of x it changes (codes of Q(image) for x̂'s and the PAE's
own, the attack's for the DAEs) and ‖image − x‖. Written to ``--out``: perturbations.json / .md and
perturbations.png (image, DAEs, PAE, then the three changes from x amplified to the full range).
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
from mmdat.apis import ConfigError, readable_errors
from mmdat.models.discretizers import shipped_checkpoint

#: the discretizer of the runs in docs/attacks.md (the CPU configs' default before 2026-12-07)
DEFAULT_DISCRETIZER = ('embedded-tiny-f4-4096', shipped_checkpoint('embedded-tiny-f4-4096'))

SETS = ('x', 'x_hat', 'official DAE', 'code-flip DAE', 'PAE')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the trained model\'s config (mmdet or mmpretrain)')
    parser.add_argument('checkpoint', help='its weights')
    parser.add_argument('--out', required=True, help='directory for perturbations.json/.md/.png')
    parser.add_argument('--discretizer', nargs=2, metavar=('PRESET', 'CHECKPOINT'),
                        default=DEFAULT_DISCRETIZER)
    parser.add_argument('--num-images', type=int, default=32)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--official-eps', type=float, default=0.1)
    parser.add_argument('--codeflip', default='codeflip-0.05', help='attack name of the code flip')
    parser.add_argument('--shown', type=int, default=4, help='images in the figure')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def example_sets(views: list, discretizer, official_eps: float, codeflip: str, seed: int) -> dict:
    """Per set name (:data:`SETS`): the valid-region crops of every image, and the words changed."""
    from mmdat.apis.attack_analysis import adversarial_example
    from mmdat.models.attacks import attack_config, build_attack, per_sample_norm, position_mask
    official = build_attack(attack_config(f'official-{official_eps:g}'))
    flip = build_attack(attack_config(codeflip))
    flip.bind_discretizer(discretizer)
    generator = torch.Generator().manual_seed(seed)
    crops = {name: [] for name in SETS}
    words = {name: [] for name in SETS}
    for view in views:
        x, valid = view.x, view.valid
        x_hat, codes_x = discretizer.discretize_with_codes(x)
        x_hat = torch.where(valid, x_hat, x)
        official_dae, official_codes, _ = adversarial_example(official, discretizer, view, x_hat, generator)
        flip_dae, flip_codes, _ = adversarial_example(flip, discretizer, view, x_hat, generator)
        budget = float(per_sample_norm((flip_dae - x) * valid).mean())
        pgd = build_attack(dict(type='L2Attack', eps=budget, step_size=2.5 * budget / 10, steps=10,
                                random_start_prob=0.0))
        pae, _, _ = adversarial_example(pgd, None, view, x_hat, generator, perturb_at='x')
        positions = position_mask(valid, discretizer.downsample_factor)
        for name, images, codes in (('x', x, codes_x), ('x_hat', x_hat, discretizer.codes(x_hat)),
                                    ('official DAE', official_dae, official_codes),
                                    ('code-flip DAE', flip_dae, flip_codes),
                                    ('PAE', pae, discretizer.codes(pae))):
            crops[name] += view.crops(images.detach())
            changed = ((codes != codes_x).flatten(1) & positions).sum(dim=1) / positions.sum(dim=1)
            words[name] += changed.tolist()
    return dict(crops=crops, words=words)


def statistics_of(sets: dict) -> dict:
    """Per set: mean distinct colours, Fréchet distance to x, high-frequency shares, words, ‖· − x‖."""
    from mmdat.evaluation.realism import LiteFeatures, frechet_distance, high_frequency_share, unique_colours
    features = LiteFeatures()
    crops = sets['crops']
    clean_features = torch.cat([features(image[None]) for image in crops['x']])
    rows = {}
    for name in SETS:
        images = crops[name]
        changes = [image - clean for image, clean in zip(images, crops['x'])]
        set_features = torch.cat([features(image[None]) for image in images])
        rows[name] = dict(
            colours=sum(float(unique_colours(image[None])) for image in images) / len(images),
            frechet=frechet_distance(set_features, clean_features),
            high_frequency_image=sum(float(high_frequency_share(image[None])) for image in images)
            / len(images),
            high_frequency_change=None if name == 'x' else
            sum(float(high_frequency_share(change[None])) for change in changes) / len(changes),
            words_changed=sum(sets['words'][name]) / len(sets['words'][name]),
            distance_x=sum(float(change.norm()) for change in changes) / len(changes))
    return rows


def markdown(rows: dict, args: argparse.Namespace) -> str:
    lines = [f'{args.num_images} val images, discretizer `{args.discretizer[0]}`, official eps '
             f'{args.official_eps:g}, code flip `{args.codeflip}`, PAE: 10 L2 PGD steps on x at the '
             'code-flip DAE\'s mean distance. Fréchet distance in EfficientNet-Lite0 features (not FID); '
             'high-frequency share: power above half Nyquist.', '',
             '| set | colours | Fréchet to x | high-freq. share, image | high-freq. share, change | '
             'words changed | ‖· − x‖ |', '|---|---|---|---|---|---|---|']
    for name, row in rows.items():
        change = '–' if row['high_frequency_change'] is None else f"{row['high_frequency_change']:.3f}"
        lines.append(f"| {name} | {row['colours']:.0f} | {row['frechet']:.2f} | "
                     f"{row['high_frequency_image']:.3f} | {change} | {100 * row['words_changed']:.1f}% | "
                     f"{row['distance_x']:.2f} |")
    return '\n'.join(lines)


def figure(sets: dict, shown: int, path: str) -> None:
    """Rows of images: x, official DAE, code-flip DAE, PAE, then each change from x amplified."""
    import numpy as np
    from PIL import Image
    crops = sets['crops']
    rows = []
    for i in range(min(shown, len(crops['x']))):
        clean = crops['x'][i]
        tiles = [crops[name][i] for name in ('x', 'official DAE', 'code-flip DAE', 'PAE')]
        for name in ('official DAE', 'code-flip DAE', 'PAE'):
            change = crops[name][i] - clean
            tiles.append((0.5 + change / (2 * change.abs().max().clamp_min(1e-8))).clamp(0, 1))
        rows.append(np.concatenate([np.pad(t.cpu().numpy(), ((0, 0), (2, 2), (2, 2)), constant_values=1)
                                    for t in tiles], axis=2))
    width = max(row.shape[2] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, 0), (0, width - row.shape[2])), constant_values=1) for row in rows]
    picture = np.concatenate(rows, axis=1).transpose(1, 2, 0)
    Image.fromarray((picture * 255).round().astype('uint8')).save(path)


def main(argv=None) -> None:
    args = parse_args(argv)
    with readable_errors():
        from mmengine.config import Config

        import mmdat  # noqa: F401
        from mmdat.apis import build_model
        from mmdat.apis.attack_analysis import attack_views
        from mmdat.models.attacks import attack_config
        from mmdat.models.discretizers import VQGANDiscretizer
        try:
            if attack_config(args.codeflip)['type'] != 'CodeFlipAttack':
                raise ValueError(f'--codeflip {args.codeflip!r} is not a code flip, e.g. codeflip-0.05')
        except ValueError as err:
            raise ConfigError(str(err)) from None
        preset, checkpoint = args.discretizer
        if not osp.isabs(checkpoint) and not osp.isfile(checkpoint):
            checkpoint = osp.join(ROOT, checkpoint)
        discretizer = VQGANDiscretizer(preset=preset, checkpoint=checkpoint)
        cfg = Config.fromfile(args.config)
        model = build_model(cfg, args.checkpoint).eval()
        os.makedirs(args.out, exist_ok=True)
        views = attack_views(cfg, model, args.num_images, args.batch_size)
        sets = example_sets(views, discretizer, args.official_eps, args.codeflip, args.seed)
        rows = statistics_of(sets)
        figure(sets, args.shown, osp.join(args.out, 'perturbations.png'))
        with open(osp.join(args.out, 'perturbations.json'), 'w') as file:
            json.dump(dict(args=vars(args), rows=rows), file, indent=1)
        table = markdown(rows, args)
        with open(osp.join(args.out, 'perturbations.md'), 'w') as file:
            file.write(table + '\n\n![x | official DAE | code-flip DAE | PAE | the three changes, '
                       'amplified](perturbations.png)\n')
        print(table)


if __name__ == '__main__':
    main()

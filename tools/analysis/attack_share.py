"""The attack's own share before any training: how much each DAT attack raises a trained model's full loss
beyond Q(x), against a random change of the same size, what it changes and what it costs.

Example (the table of docs/attacks.md):
    python tools/analysis/attack_share.py --out work_dirs/attack_share \
        --model efficientdet-lite0 CONFIG CHECKPOINT --model resnet18 CONFIG CHECKPOINT \
        --attacks official-0.1 official-4 codeflip-0.05 codeflip-0.2 latentpgd-0.5 qpgd-2

For each model (plain config and its trained weights, eval mode) and each named attack
(:mod:`mmdat.models.attacks.names`) over the first ``--num-images`` val images, with the discretizer Q
of docs/attacks.md, ``embedded-tiny-f4-4096`` (or ``--discretizer PRESET CHECKPOINT``):

- the share, L(x_adv) − L(x̂), where x̂ = Q(x) and L is the model's full training loss;
- two controls of the same size: as many visual words swapped at random per image (every attack), and
  a random change of the attack's norm: Q(centre + a random δ of its per-image norm) for pixel attacks,
  a random latent point on the surface of its ball for latent PGD;
- the words of x that x_adv changed (share of valid positions), ‖x_adv − x‖ and ‖x_adv − x̂‖ per image
  in [0, 1] RGB, and the attack's time (its passes and Q(centre + δ)) as a ratio to the official one's,
  measured in the same process.

The official and Q-in-the-loop pixel attacks perturb x̂ and x respectively (the official code and
``perturb_at='x'``); the code-space attacks change the words of x.
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

#: the discretizer of the runs in docs/attacks.md (the CPU configs' default before 2026-12-07)
DEFAULT_DISCRETIZER = ('embedded-tiny-f4-4096', shipped_checkpoint('embedded-tiny-f4-4096'))

DEFAULT_ATTACKS = ('official-0.1', 'official-4', 'codeflip-0.05', 'codeflip-0.2', 'codeflip-0.05-k32',
                   'latentpgd-0.5', 'qpgd-2', 'qpgd-8')
REFERENCE = 'official-0.1'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='directory for attack_share.json/.md/.png')
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT'), help='a trained model (repeatable)')
    parser.add_argument('--attacks', nargs='+', default=list(DEFAULT_ATTACKS),
                        help=f"attack names (default: {' '.join(DEFAULT_ATTACKS)})")
    parser.add_argument('--discretizer', nargs=2, metavar=('PRESET', 'CHECKPOINT'),
                        default=DEFAULT_DISCRETIZER,
                        help="the discretizer (default: embedded-tiny-f4-4096, docs/attacks.md's)")
    parser.add_argument('--num-images', type=int, default=32, help='val images per model')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def measure(views: list, discretizer, attack_cfg: dict, seed: int) -> dict:
    """Loss at x, x̂, x_adv and the two controls, words changed, distances and seconds, averaged over
    the batches ``views``."""
    from mmdat.apis.attack_analysis import adversarial_example
    from mmdat.models.attacks import CodeFlipAttack, build_attack, per_sample_norm, position_mask
    attack = build_attack(attack_cfg)
    attack.bind_discretizer(discretizer)
    control = CodeFlipAttack(selection='random')
    control.bind_discretizer(discretizer)
    perturb_at = 'x' if attack_cfg['type'] == 'QuantizedPGDAttack' else 'x_hat'
    generator = torch.Generator().manual_seed(seed)
    sums, seconds = {}, 0.0

    def add(key: str, value: float) -> None:
        sums[key] = sums.get(key, 0.0) + value

    for view in views:
        x, valid = view.x, view.valid
        x_hat, codes_x = discretizer.discretize_with_codes(x)
        x_hat = torch.where(valid, x_hat, x)
        start = time.perf_counter()
        x_adv, codes_adv, result = adversarial_example(attack, discretizer, view, x_hat, generator,
                                                       perturb_at)
        seconds += time.perf_counter() - start
        positions = position_mask(valid, discretizer.downsample_factor)
        changed = (codes_adv != codes_x).flatten(1) & positions
        words = control.swap(x, view.loss_at, valid, generator, changed.sum(dim=1)).x_adv
        losses = dict(x=x, x_hat=x_hat, x_adv=x_adv, words_control=words)
        if attack_cfg['type'] == 'LatentPGDAttack':  # a random latent change of the same budget
            random_latent = build_attack(dict(attack_cfg, selection='random'))
            random_latent.bind_discretizer(discretizer)
            losses['norm_control'] = random_latent.run(x, view.loss_at, valid, generator).x_adv
        if result.x_adv is None:  # a pixel attack: the same norm in a random direction
            center = x_hat if perturb_at == 'x_hat' else x
            noise = torch.randn(x.shape, generator=generator) * valid
            noise = noise * per_sample_norm(result.delta) / per_sample_norm(noise).clamp_min(1e-12)
            losses['norm_control'] = torch.where(
                valid, discretizer.discretize((center + noise).clamp(0, 1)), x)
        with torch.no_grad():
            for key, images in losses.items():
                add(f'loss_{key}', float(view.loss_at(images)))
        add('words_changed', float((changed.sum(dim=1) / positions.sum(dim=1)).mean()))
        add('distance_x', float(per_sample_norm((x_adv - x) * valid).mean()))
        add('distance_x_hat', float(per_sample_norm((x_adv - x_hat) * valid).mean()))
    row = {key: value / len(views) for key, value in sums.items()}
    row['share'] = row['loss_x_adv'] - row['loss_x_hat']
    row['share_words_control'] = row['loss_words_control'] - row['loss_x_hat']
    if 'loss_norm_control' in row:
        row['share_norm_control'] = row['loss_norm_control'] - row['loss_x_hat']
    row['seconds_per_batch'] = seconds / len(views)
    return row


def markdown(rows: dict, args: argparse.Namespace) -> str:
    lines = [f'Discretizer `{args.discretizer[0]}`; first {args.num_images} val images, batches of '
             f'{args.batch_size}; eval mode. Share = L(x_adv) − L(x̂); the controls change as many '
             'words at random, or make a random change of the same norm (pixels before Q, or latents). '
             f'Cost: time of the attack and of Q(centre + δ), as a ratio to {REFERENCE} in the same '
             'process.', '']
    for model, model_rows in rows.items():
        lines += [f'**{model}**', '',
                  '| attack | L(x) | L(x̂) | share | share, words control | share, norm control | '
                  'words changed | ‖x_adv − x‖ | ‖x_adv − x̂‖ | cost |',
                  '|---|---|---|---|---|---|---|---|---|---|']
        reference = model_rows.get(REFERENCE, {}).get('seconds_per_batch')
        for name, row in model_rows.items():
            norm = f"{row['share_norm_control']:+.3f}" if 'share_norm_control' in row else '–'
            cost = f"{row['seconds_per_batch'] / reference:.2f}×" if reference else \
                f"{row['seconds_per_batch']:.2f} s"
            lines.append(f"| {name} | {row['loss_x']:.3f} | {row['loss_x_hat']:.3f} | "
                         f"{row['share']:+.3f} | {row['share_words_control']:+.3f} | {norm} | "
                         f"{100 * row['words_changed']:.1f}% | {row['distance_x']:.2f} | "
                         f"{row['distance_x_hat']:.2f} | {cost} |")
        lines.append('')
    return '\n'.join(lines)


def plot(rows: dict, path: str) -> None:
    """Per model: each attack's share next to its words control."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(1, len(rows), figsize=(6 * len(rows), 4), squeeze=False)
    for ax, (model, model_rows) in zip(axes[0], rows.items()):
        names = list(model_rows)
        positions = range(len(names))
        ax.bar([p - 0.2 for p in positions], [model_rows[n]['share'] for n in names], 0.4,
               label='attack')
        ax.bar([p + 0.2 for p in positions], [model_rows[n]['share_words_control'] for n in names],
               0.4, label='as many random words')
        ax.axhline(0, color='black', linewidth=0.5)
        ax.set_xticks(list(positions), names, rotation=30, ha='right')
        ax.set_ylabel('L(x_adv) − L(Q(x))')
        ax.set_title(model)
        ax.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    args = parse_args()
    with readable_errors():
        from mmengine.config import Config

        import mmdat  # noqa: F401
        from mmdat.apis import build_model
        from mmdat.apis.attack_analysis import attack_views
        from mmdat.models.attacks import attack_config
        from mmdat.models.discretizers import VQGANDiscretizer
        try:
            configs = {name: attack_config(name) for name in dict.fromkeys([REFERENCE, *args.attacks])}
        except ValueError as err:
            raise ConfigError(str(err)) from None
        preset, checkpoint = args.discretizer
        checkpoint = checkpoint if osp.isabs(checkpoint) else osp.join(ROOT, checkpoint)
        discretizer = VQGANDiscretizer(preset=preset, checkpoint=checkpoint)
        os.makedirs(args.out, exist_ok=True)
        rows = {}
        for name, config, weights in args.model:
            cfg = Config.fromfile(config)
            model = build_model(cfg, weights).eval()
            views = attack_views(cfg, model, args.num_images, args.batch_size)
            rows[name] = {}
            for attack, attack_cfg in configs.items():
                rows[name][attack] = measure(views, discretizer, attack_cfg, args.seed)
                print(name, attack, json.dumps({k: round(v, 4) for k, v in rows[name][attack].items()}),
                      flush=True)
        with open(osp.join(args.out, 'attack_share.json'), 'w') as file:
            json.dump(dict(discretizer=list(args.discretizer), num_images=args.num_images,
                           attacks=configs, rows=rows), file, indent=1)
        table = markdown(rows, args)
        with open(osp.join(args.out, 'attack_share.md'), 'w') as file:
            file.write(table + '\n![attack share](attack_share.png)\n')
        plot(rows, osp.join(args.out, 'attack_share.png'))
        print(table)


if __name__ == '__main__':
    main()

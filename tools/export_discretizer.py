"""Export the generator of a VQGANTrainer checkpoint as a plain taming-format fp32 state dict:
the file that ``mmdat.VQGANDiscretizer(ddconfig=..., n_embed=..., embed_dim=...,
checkpoint=...)`` loads."""
import argparse
import hashlib
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdat.models.vqgan_training.export import (build_generator, generator_kwargs_from_checkpoint,
                                                generator_state_dict)
from mmdat.utils.checkpoint import load_checkpoint_file


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('checkpoint', help='mmengine checkpoint of mmdat.VQGANTrainer (iter_*.pth)')
    parser.add_argument('out', help='output .pth: a plain state dict of the generator')
    parser.add_argument(
        '--config', help='training config; by default the one saved inside the checkpoint')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    checkpoint = load_checkpoint_file(args.checkpoint)
    state_dict = generator_state_dict(checkpoint, source=args.checkpoint)
    if args.config:
        generator_kwargs = Config.fromfile(args.config).model.generator.to_dict()
    else:
        generator_kwargs = generator_kwargs_from_checkpoint(checkpoint)
        if generator_kwargs is None:
            sys.exit(f'{args.checkpoint} carries no config; pass --config <training config>')
    build_generator(generator_kwargs, state_dict)  # raises unless the keys match strictly
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(state_dict, args.out)
    with open(args.out, 'rb') as file:
        digest = hashlib.sha256(file.read()).hexdigest()
    print(f'wrote {args.out}: {len(state_dict)} tensors, {osp.getsize(args.out) / 2**20:.2f} MiB, '
          f'sha256 {digest}')
    print(f'load it with: dict(type="mmdat.VQGANDiscretizer", checkpoint={args.out!r}, '
          f'ddconfig={generator_kwargs["ddconfig"]}, n_embed={generator_kwargs["n_embed"]}, '
          f'embed_dim={generator_kwargs["embed_dim"]})')


if __name__ == '__main__':
    main()

"""Train a model with an mmdat (or any mmdet/mmpretrain) config: the same CLI as mmdet's tools/train.py."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdat.apis import add_common_arguments, build_runner_from_args, parse_tool_args, readable_errors


def main() -> None:
    parser = argparse.ArgumentParser(description='Train a model (DAT-ready)')
    parser.add_argument('config', help='train config file path')
    add_common_arguments(parser)
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the work dir if no path is given')
    args = parse_tool_args(parser)
    with readable_errors():
        build_runner_from_args(args, training=True).train()


if __name__ == '__main__':
    main()

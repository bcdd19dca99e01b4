"""Evaluate a checkpoint with an mmdat (or any mmdet/mmpretrain) config: the CLI of mmdet's tools/test.py."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdat.apis import add_common_arguments, build_runner_from_args, parse_tool_args, readable_errors


def main() -> None:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_common_arguments(parser)
    parser.add_argument('--out', help='dump predictions to this pickle file')
    args = parse_tool_args(parser)
    with readable_errors():
        build_runner_from_args(args, training=False).test()


if __name__ == '__main__':
    main()

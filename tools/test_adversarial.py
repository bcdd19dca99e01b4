"""Adversarial robustness of a classifier (top-1) or a detector (COCO mAP) from its own config:
FGSM and PGD, L∞ and L2, on the model's full training loss, in RGB [0, 1] through its own data
preprocessor. The sibling of tools/test_robustness.py, with the same options and outputs.

Example:
    python tools/test_adversarial.py CONFIG CHECKPOINT --out work_dirs/adversarial \
        --attacks fgsm pgd --norms linf l2 --eps-linf 1/255 4/255 --eps-l2 0.25 1.0 --steps 10
"""
import argparse
import os.path as osp
import sys
from fractions import Fraction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdat.apis import (ConfigError, add_evaluation_arguments, check_evaluation_arguments, load_tool_config,
                        parse_tool_args, readable_errors)


def budget(text: str) -> float:
    """A budget such as ``0.5``, ``4/255``."""
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f'not a number or fraction: {text!r}') from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='test config file (mmdet or mmpretrain)')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_evaluation_arguments(parser, 'adversarial.json, .md, .png and adversarial_cells/')
    parser.add_argument('--attacks', nargs='+', default=['fgsm', 'pgd'], help='fgsm and/or pgd')
    parser.add_argument('--norms', nargs='+', default=['linf', 'l2'], help='linf and/or l2')
    parser.add_argument('--eps-linf', nargs='+', type=budget, default=[1 / 255, 4 / 255],
                        help='L∞ budgets per value in [0, 1]; default: 1/255 4/255')
    parser.add_argument('--eps-l2', nargs='+', type=budget, default=[0.25, 1.0],
                        help='L2 budgets per image in [0, 1]; default: 0.25 1.0')
    parser.add_argument('--steps', type=int, default=10, help='PGD steps')
    parser.add_argument('--step-size', type=budget, help='PGD step (default 2.5 eps / steps)')
    args = parse_tool_args(parser)
    with readable_errors():
        from mmengine.dist import is_main_process

        from mmdat.evaluation.robustness import (AdversarialBenchmark, AttackSpec, check_attack,
                                                 write_adversarial_reports)
        specs = []
        try:
            for method in args.attacks:
                for norm in args.norms:
                    for eps in (args.eps_linf if norm == 'linf' else args.eps_l2):
                        check_attack(method, norm, eps, args.steps)
                        specs.append(AttackSpec(method, norm, eps, args.steps, args.step_size))
        except ValueError as err:
            raise ConfigError(str(err)) from None
        check_evaluation_arguments(args)
        cfg = load_tool_config(args.config, args.cfg_options, args.launcher)
        benchmark = AdversarialBenchmark(
            cfg, args.checkpoint, args.out, specs, num_images=args.num_images,
            workers=args.workers, seed=args.seed)
        result = benchmark.run()
        if is_main_process():
            print(write_adversarial_reports(result, args.out))


if __name__ == '__main__':
    main()

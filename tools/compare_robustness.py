"""Compare robustness runs in the form of the DAT paper's Table 4: clean, mPC, rPC % of the primary
metric (COCO mAP or top-1), their differences to the first run, the per-corruption deltas, and one
plot.

Example:
    python tools/compare_robustness.py work_dirs/normal/robustness work_dirs/dat/robustness \
        --names normal DAT --plot work_dirs/compare.png
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdat.apis import ConfigError, readable_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('results', nargs='+',
                        help='robustness.json files or --out directories of test_robustness.py')
    parser.add_argument('--names', nargs='+', help='a name per run (default: the paths)')
    parser.add_argument('--plot', help='write the comparison plot to this PNG')
    parser.add_argument('--out', help='also write the table to this Markdown file')
    args = parser.parse_args()
    with readable_errors():
        from mmdat.evaluation.robustness import comparison_table, list_results, plot_comparison
        if args.names and len(args.names) != len(args.results):
            raise ConfigError(f'--names needs one name per result: {len(args.results)} results, '
                              f'{len(args.names)} names')
        results = list_results(args.results)
        names = args.names or args.results
        metrics = {next(iter(r['summary']['metrics'])) for r in results}
        if len(metrics) > 1:
            raise ConfigError(f'the runs report different metrics ({sorted(metrics)}): compare '
                              'detectors with detectors and classifiers with classifiers')
        table = comparison_table(results, names)
        for name, result in zip(names, results):
            if not result['summary']['protocol']['full_benchmark']:
                table += (f'\n\n{name}: subset run (' +
                          '; '.join(result['summary']['protocol']['subset_reasons']) + ')')
        print(table)
        if args.out:
            with open(args.out, 'w') as file:
                file.write(table + '\n')
        if args.plot:
            plot_comparison(results, names, args.plot)
            print(f'plot: {args.plot}')


if __name__ == '__main__':
    main()

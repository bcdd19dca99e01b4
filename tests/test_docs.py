"""The documentation's commands and config snippets are real.

Every command in a fenced ``bash`` block of README.md and docs/*.md must be run somewhere: by
``make demo``, by CI (``make test``), or by a named test that runs the same tool (on a test-sized twin
of the config where the documented schedule takes hours), and its command line must parse with the
tool's own argument parser. Blocks fenced as ``text`` are shown, not run (a download, a slurm job),
and say so. Config snippets (``python`` blocks that start with ``# <name>.py``) are loaded and built
here.
"""
import ast
import glob
import os.path as osp
import re

import pytest
from conftest import REPO_ROOT
from mmengine.config import Config

DOCS = [osp.join(REPO_ROOT, 'README.md')] + sorted(glob.glob(osp.join(REPO_ROOT, 'docs', '*.md')))
#: documented command (a regular expression on the whole command) -> where it runs
RUN_BY = [
    (r'make demo', 'make demo'),
    (r'make (test|install)', 'CI (.ci/run runs make test, which runs make install)'),
    (r'python tools/train\.py \S*efficientdet\S*_embedded\.py --work-dir \S+',
     'tests/test_tools_e2e.py::test_efficientdet_lite0_trains_with_dat_and_reports_coco_map'),
    (r'python tools/train\.py \S*resnet18\S*_embedded\.py --work-dir \S+',
     'tests/test_tools_e2e.py::test_resnet_with_mixup_trains_with_dat_and_draws_grids'),
    (r'python tools/train\.py \S+ --work-dir \S+ --resume',
     'tests/test_tools_e2e.py::test_resumed_run_repeats_the_uninterrupted_losses'),
    (r'python tools/test\.py \S*efficientdet\S* \S+\.pth',
     'tests/test_tools_e2e.py::test_efficientdet_lite0_trains_with_dat_and_reports_coco_map'),
    (r'python tools/make_embedded_dataset\.py --out-dir \S+( --task (det|cls))?',
     'tests/test_embedded_dataset.py::test_command_line_tool_writes_dataset_and_preview'),
    (r'python tools/test_robustness\.py (?!\S*resnet)\S+ \S+ --out \S+ --corruptions benchmark.*',
     'tests/test_robustness.py::test_detector_summary_equals_a_hand_computation_from_its_cells'),
    (r'python tools/test_robustness\.py \S*resnet\S* \S+ --out \S+ --corruptions benchmark.*',
     'tests/test_robustness.py::test_classifier_reports_accuracy_mpc_and_mce'),
    (r'python tools/make_coco_c\.py \S+ \S+ .*',
     'tests/test_robustness.py::test_pregenerated_directory_gives_the_same_metrics_as_on_the_fly'),
    (r'python tools/test_robustness\.py \S+ \S+ --out \S+ --corrupted-dir \S+',
     'tests/test_robustness.py::test_pregenerated_directory_gives_the_same_metrics_as_on_the_fly'),
    (r'python tools/compare_robustness\.py .*--names .*',
     'tests/test_robustness.py::test_compare_prints_table_4_with_differences'),
    (r'python tools/test_adversarial\.py \S+ \S+ --out \S+ --attacks fgsm pgd.*',
     'tests/test_robustness.py::test_adversarial_tool_lowers_classifier_accuracy_and_writes_reports'),
    (r'python tools/benchmark_discretizer\.py --quick',
     'tests/test_tools_e2e.py::test_discretizer_benchmark_writes_rows_and_pins_the_taming_decoder'),
    (r'python tools/analysis/attack_share\.py .*',
     'tests/test_attack_analysis.py::test_attack_share_measures_each_attack_against_its_controls'),
    (r'python tools/analysis/perturbations\.py .*',
     'tests/test_attack_analysis.py::test_perturbation_analysis_runs_on_tiny_inputs'),
    (r'python tools/study_efficacy\.py --models yolov3 (--arms [^-]\S*( [^-]\S*)* )?--records \S+ '
     r'--report-only --work-dir \S+',
     'tests/test_study.py::test_a_committed_record_gives_the_documented_table'),
    (r'python tools/study_efficacy\.py .*',
     'tests/test_study.py::test_a_gain_that_eps_0_matches_is_called_augmentation'),
    (r'python tools/test_robustness\.py \S*resnet\S* \S+ --out \S+ --corrupted-dir \S+',
     'tests/test_robustness.py::test_imagenet_c_layout_is_read_by_file_name_below_the_class_folders'),
    (r'(TOOL=test_adversarial\.py )?bash tools/dist_test_robustness\.sh \S+ \S+ \d+ --out \S+.*',
     'tests/test_robustness.py::test_two_ranks_give_the_cells_and_summary_of_one_process'),
    (r'torchrun --nproc_per_node=\d+ tools/test_(robustness|adversarial)\.py \S+ \S+ --out \S+ '
     r'--launcher pytorch',
     'tests/test_robustness.py::test_two_ranks_give_the_cells_and_summary_of_one_process'),
    (r'python tools/benchmark_discretizer\.py --preset \S+ --size .*--single-pass.*',
     'tests/test_full_size.py::test_full_size_benchmarks_run_in_single_pass_mode'),
    (r'python tools/benchmark_dat\.py --model (faster-rcnn|retinanet) .*--single-pass.*',
     'tests/test_full_size.py::test_full_size_benchmarks_run_in_single_pass_mode'),
    (r'python tools/train\.py \S*mocov3\S*_embedded\.py --work-dir \S+( --cfg-options \S+)?',
     'tests/test_selfsup_dat.py::test_cpu_pretraining_and_linear_probe_run_end_to_end'),
    (r'python tools/test\.py \S*linear-probe\S* \S+\.pth',
     'tests/test_selfsup_dat.py::test_cpu_pretraining_and_linear_probe_run_end_to_end'),
    (r'bash tools/dist_train\.sh \S+ \d+( --work-dir \S+)?',
     'tests/test_ddp.py::test_two_process_ddp_keeps_efficientdet_ranks_identical'),
    (r'torchrun --nproc_per_node=\d+ tools/train\.py \S+ --launcher pytorch',
     'tests/test_ddp.py::test_two_process_ddp_keeps_ranks_identical'),
]


def fenced_blocks(language):
    """(file, block text) of every fenced block in ``language``."""
    for path in DOCS:
        text = open(path).read()
        for block in re.findall(rf'^```{language}\n(.*?)^```', text, flags=re.S | re.M):
            yield osp.relpath(path, REPO_ROOT), block


def documented_commands():
    for path, block in fenced_blocks('bash'):
        for line in block.replace('\\\n', ' ').splitlines():
            command = re.sub(r'\s+#.*$', '', line).strip()
            if command and not command.startswith('#'):
                yield path, re.sub(r'\s+', ' ', command)


def test_every_documented_command_is_run_by_make_demo_ci_or_a_named_test():
    commands = list(documented_commands())
    assert len(commands) >= 15
    for path, command in commands:
        runners = [runner for pattern, runner in RUN_BY if re.fullmatch(pattern, command)]
        assert runners, f'{path}: no test runs `{command}`; add one and list it in RUN_BY'
    for pattern, runner in RUN_BY:
        if '::' not in runner:
            continue
        test_file, name = runner.split('::')
        source = open(osp.join(REPO_ROOT, test_file)).read()
        functions = {node.name for node in ast.walk(ast.parse(source))
                     if isinstance(node, ast.FunctionDef)}
        assert name in functions, f'{runner} (for `{pattern}`) does not exist'


#: runs each tool of a command list up to its argument parsing, with the tool's own parser, and prints
#: {command: 'parsed' or the parser's error} as JSON
PARSE_ONLY = r"""
import argparse, contextlib, io, json, runpy, shlex, sys

class Parsed(Exception):
    pass

def parse_then_stop(self, args=None, namespace=None):
    namespace, extras = self.parse_known_args(args, namespace)
    if extras:
        self.error('unrecognized arguments: ' + ' '.join(extras))
    raise Parsed()

argparse.ArgumentParser.parse_args = parse_then_stop
results = {}
for command in json.loads(sys.argv[1]):
    tool, *args = shlex.split(command)
    sys.argv = [tool, *args]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(tool, run_name='__main__')
        results[command] = 'the tool finished without parsing its arguments'
    except Parsed:
        results[command] = 'parsed'
    except SystemExit:
        results[command] = errors.getvalue().strip().splitlines()[-1:] or ['exit']
print(json.dumps(results))
"""


def tool_command(command):
    """The ``tools/<tool>.py args`` part of a documented command, or None: python, torchrun,
    tools/dist_train.sh (which passes its arguments after NPROC to tools/train.py) and
    tools/dist_test_robustness.sh."""
    match = re.fullmatch(r'(?:python|torchrun(?: --\S+)*) (tools/\S+\.py)(.*)', command)
    if match:
        return match.group(1) + match.group(2)
    match = re.fullmatch(r'bash tools/dist_train\.sh (\S+) \d+(.*)', command)
    if match:
        return f'tools/train.py {match.group(1)}{match.group(2)}'
    match = re.fullmatch(r'(?:TOOL=(\S+) )?bash tools/dist_test_robustness\.sh (\S+) (\S+) \d+(.*)', command)
    if match:  # it passes CONFIG CHECKPOINT and the arguments after NPROC to $TOOL
        tool = match.group(1) or 'test_robustness.py'
        return f'tools/{tool} {match.group(2)} {match.group(3)}{match.group(4)}'
    return None


def test_every_documented_tool_command_parses_with_the_tool_s_own_parser():
    """Each documented tool command line is valid for its tool: in one process, every tool runs up
    to its argument parsing, with its real parser (flags, choices, positionals), and stops there."""
    import json
    import subprocess
    import sys
    commands = sorted({tool_command(command) for _, command in documented_commands()} - {None})
    assert len(commands) >= 15
    proc = subprocess.run([sys.executable, '-c', PARSE_ONLY, json.dumps(commands)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    failures = {command: result for command, result in results.items() if result != 'parsed'}
    assert not failures, failures


@pytest.mark.parametrize('path,snippet', [
    pytest.param(path, block, id=block.splitlines()[0].lstrip('# '))
    for path, block in fenced_blocks('python') if re.match(r'# \S+\.py\n', block)])
def test_config_snippets_load_and_build(tmp_path, path, snippet):
    """A user's config written as the docs show it: loads, builds, and has the DAT preprocessor and
    the hook."""
    from mmengine.registry import HOOKS, MODELS, init_default_scope
    file = tmp_path / snippet.splitlines()[0].lstrip('# ')
    file.write_text(snippet)
    cfg = Config.fromfile(str(file))
    scope = cfg.get('default_scope', 'mmengine')
    init_default_scope(scope)
    preprocessor_cfg = cfg.model.get('data_preprocessor') or cfg.data_preprocessor
    if 'data_preprocessor' not in cfg.model:
        cfg.model.data_preprocessor = preprocessor_cfg
    model = MODELS.build(cfg.model)
    assert type(model.data_preprocessor).__name__.startswith('DAT'), path
    assert model.data_preprocessor.dat_enabled
    assert model.data_preprocessor.attack.eps == 0.1
    hooks = [HOOKS.build(dict(hook)) for hook in cfg.custom_hooks]
    assert any(type(hook).__name__ == 'DATHook' for hook in hooks)


#: words that mark a figure or a sentence still to be written
PLACEHOLDER = re.compile(r'\b(MEASURE\w*|TODO|TBD|FIXME|XXX)\b')


def test_no_document_keeps_a_placeholder():
    """Every figure in the docs was measured: none still says MEASURE_..., TODO or TBD."""
    paths = DOCS + sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.md'), recursive=True))
    found = [f'{osp.relpath(path, REPO_ROOT)}:{number}: {line.strip()}'
             for path in paths for number, line in enumerate(open(path), 1)
             if PLACEHOLDER.search(line)]
    assert not found, 'placeholders left in the docs:\n' + '\n'.join(found)

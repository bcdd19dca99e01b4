"""tools/train.py and tools/test.py end to end on the embedded dataset, as a user runs them."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

CONFIGS = osp.join(REPO_ROOT, 'tests', 'configs')
PLAIN = osp.join(CONFIGS, 'yolov3_tiny_embedded.py')
DAT = osp.join(CONFIGS, 'yolov3_tiny_embedded_dat.py')


def run_tool(tool, *args, cwd, check=True):
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH=REPO_ROOT)
    proc = subprocess.run([sys.executable, osp.join(REPO_ROOT, 'tools', tool), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'{tool} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


def iteration_scalars(work_dir):
    """Per-iteration training scalars written by the LocalVisBackend (one line per iteration)."""
    records = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record:
                    records[record['iter']] = record
    return records


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    return str(tmp_path_factory.mktemp('e2e'))


@pytest.mark.parametrize('config', [PLAIN, DAT], ids=['plain', 'dat'])
def test_resumed_run_repeats_the_uninterrupted_losses(scratch, config):
    name = osp.splitext(osp.basename(config))[0]
    full, part = osp.join(scratch, name + '_full'), osp.join(scratch, name + '_part')
    run_tool('train.py', config, '--work-dir', full, cwd=scratch)
    run_tool('train.py', config, '--work-dir', part, '--cfg-options', 'train_cfg.max_iters=3', cwd=scratch)
    run_tool('train.py', config, '--work-dir', part, '--resume', cwd=scratch)
    expected, resumed = iteration_scalars(full), iteration_scalars(part)
    assert sorted(expected) == list(range(1, 7)) and sorted(resumed) == list(range(1, 7))
    for it in range(4, 7):
        for key in ('loss', 'loss_cls', 'loss_conf', 'loss_xy', 'loss_wh'):
            assert resumed[it][key] == pytest.approx(expected[it][key], rel=1e-5, abs=1e-6), (it, key)
    if config == DAT:
        for key in ('dat/loss_xhat', 'dat/loss_adv', 'dat/delta_norm', 'dat/code_flip'):
            assert key in expected[6], key
            assert resumed[6][key] == pytest.approx(expected[6][key], rel=1e-5, abs=1e-6), key
        assert 0 < expected[6]['dat/code_flip'] < 1
        grids = glob.glob(osp.join(full, '*', 'vis_data', 'vis_image', 'dat_examples_*.png'))
        assert len(grids) == 2  # vis_interval=3 over 6 iterations


def test_test_tool_reports_coco_map(scratch):
    work_dir = osp.join(scratch, 'yolov3_tiny_embedded_full')
    checkpoint = osp.join(work_dir, 'iter_6.pth')
    if not osp.isfile(checkpoint):
        run_tool('train.py', PLAIN, '--work-dir', work_dir, cwd=scratch)
    proc = run_tool('test.py', PLAIN, checkpoint, '--work-dir', osp.join(scratch, 'test'),
                    '--out', osp.join(scratch, 'test', 'predictions.pkl'), cwd=scratch)
    assert 'coco/bbox_mAP:' in proc.stdout
    assert osp.isfile(osp.join(scratch, 'test', 'predictions.pkl'))


@pytest.mark.parametrize('tool,args,names', [
    ('train.py', ['configs/does_not_exist.py'], 'config file not found: configs/does_not_exist.py'),
    ('train.py', [PLAIN, '--cfg-options', 'model.neck.type=NoSuchNeck'], 'NoSuchNeck'),
    ('train.py', [DAT, '--cfg-options', 'model.data_preprocessor.dat.train_on=bogus'], 'bogus'),
    ('train.py', [DAT, '--cfg-options', 'model.data_preprocessor.dat.attack.type=NoSuchAttack'],
     'NoSuchAttack'),
    ('test_robustness.py', [PLAIN, 'missing.pth', '--out', 'rob'], 'checkpoint file not found'),
    ('analysis/discretizer_report.py', ['--out', 'report', '--discretizer', 'no-such-preset=x.pth'],
     'no-such-preset')], ids=['config', 'type', 'value', 'attack', 'checkpoint', 'preset'])
def test_a_bad_input_gives_one_error_line_and_exit_status_2(scratch, tool, args, names):
    """No traceback: one ``mmdat: error:`` line that names what is wrong, a hint, status 2; with
    ``MMDAT_DEBUG=1`` the traceback is shown."""
    work_dir = ['--work-dir', osp.join(scratch, 'bad')] if tool == 'train.py' else []
    proc = run_tool(tool, *args, *work_dir, cwd=scratch, check=False)
    errors = [line for line in proc.stderr.splitlines() if line.startswith('mmdat: error:')]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(errors) == 1 and names in errors[0], proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr and '--debug' in proc.stderr
    if tool == 'train.py' and 'bogus' in args[-1]:
        debug = run_tool(tool, *args, *work_dir, '--debug', cwd=scratch, check=False)
        assert debug.returncode != 0 and 'Traceback' in debug.stderr and 'bogus' in debug.stderr


def test_resnet_with_mixup_trains_with_dat_and_draws_grids(scratch):
    config = osp.join(CONFIGS, 'resnet18_tiny_embedded_dat.py')
    work_dir = osp.join(scratch, 'resnet_dat')
    proc = run_tool('train.py', config, '--work-dir', work_dir, cwd=scratch)
    scalars = iteration_scalars(work_dir)
    assert sorted(scalars) == [1, 2, 3, 4]
    for key in ('dat/loss_xhat', 'dat/loss_adv', 'dat/delta_norm', 'dat/code_flip', 'dat/nonfinite'):
        assert key in scalars[4], key
    assert scalars[4]['dat/nonfinite'] == 0
    assert len(glob.glob(osp.join(work_dir, '*', 'vis_data', 'vis_image', 'dat_examples_*.png'))) == 2
    assert 'accuracy/top1' in proc.stdout


def test_efficientdet_lite0_trains_with_dat_and_reports_coco_map(scratch):
    config = osp.join(CONFIGS, 'efficientdet_tiny_embedded_dat.py')
    work_dir = osp.join(scratch, 'efficientdet_dat')
    run_tool('train.py', config, '--work-dir', work_dir, cwd=scratch)
    scalars = iteration_scalars(work_dir)
    assert sorted(scalars) == [1, 2, 3, 4]
    for key in ('loss_cls', 'loss_bbox', 'dat/loss_xhat', 'dat/loss_adv', 'dat/code_flip'):
        assert key in scalars[4], key
    proc = run_tool('test.py', config, osp.join(work_dir, 'iter_4.pth'), '--work-dir',
                    osp.join(scratch, 'efficientdet_test'), cwd=scratch)
    assert 'coco/bbox_mAP:' in proc.stdout and 'coco/bbox_mAP_50:' in proc.stdout


def test_discretizer_benchmark_writes_rows_and_pins_the_taming_decoder(scratch):
    out = osp.join(scratch, 'discretizer_benchmark.json')
    run_tool('benchmark_discretizer.py', '--quick', '--paths', 'default', 'taming decoder',
             '--threads', '2', '--out', out, cwd=scratch)
    with open(out) as file:
        rows = json.load(file)
    timed = [row for row in rows if row['ms'] is not None]
    assert {(row['size'], row['batch'], row['path']) for row in timed} == {
        ('64x64', batch, path) for batch in (1, 2) for path in ('taming', 'default', 'taming decoder')}
    for row in timed:
        assert set(row) >= {'preset', 'size', 'batch', 'path', 'exact', 'ms',
                            'speedup_vs_taming', 'code_agreement'}
        assert row['exact'] and row['code_agreement'] == 1.0 and row['ms'] > 0
        if row['path'] != 'default':
            assert row['max_abs_dx'] == 0.0  # bit for bit
    attack_sized = [row for row in rows if row['ms'] is None]
    assert len(attack_sized) == 2 and all(0.5 < row['code_agreement'] < 1 for row in attack_sized)


def test_dat_benchmark_counts_each_mode_s_discretizer_passes_and_prices_against_official(scratch):
    out = osp.join(scratch, 'dat_benchmark.json')
    proc = run_tool('benchmark_dat.py', '--model', 'resnet', '--size', '64', '--batch', '2',
                    '--repeats', '1', '--threads', '2', '--out', out, cwd=scratch)
    assert 'x official' in proc.stdout and 'ResNet-18, 64x64 px, batch 2' in proc.stdout
    with open(out) as file:
        rows = {row['mode']: row for row in json.load(file)}
    assert set(rows) == {'plain', 'official', 'adv', 'clean+adv', 'separate', 'fused',
                         'clean+adv, taming decoder', 'fused, taming decoder', 'Q'}
    for row in rows.values():
        assert set(row) >= {'model', 'discretizer', 'mode', 'ms_per_iter', 'peak_mem_mb',
                            'ratio_to_plain', 'ratio_to_official', 'floor_ratio'}
        assert row['ms_min'] <= row['ms_per_iter'] <= row['ms_max'] and row['gflop'] > 0
    passes = {mode: row['discretizer_passes'] for mode, row in rows.items()}
    assert passes == {'plain': 0, 'official': 2, 'adv': 2, 'clean+adv': 2, 'separate': 2, 'fused': 1,
                      'clean+adv, taming decoder': 2, 'fused, taming decoder': 1, 'Q': 1}
    assert rows['official']['ratio_to_official'] == 1.0 and rows['plain']['ratio_to_plain'] == 1.0
    assert rows['plain']['floor_ratio'] == pytest.approx(1.0)
    assert rows['Q']['floor_ratio'] == pytest.approx(1.0)
    assert rows['plain']['floor_ratio_min'] == pytest.approx(1.0)
    assert rows['Q']['floor_ratio_min'] == pytest.approx(1.0)
    # the official recipe and clean+adv do the same work; fused saves one Q and one model pass
    assert rows['clean+adv']['gflop'] == pytest.approx(rows['official']['gflop'], rel=1e-6)
    q, plain = rows['Q']['gflop'], rows['plain']['gflop']
    official_model = rows['official']['gflop'] - 2 * q
    fused_model = rows['fused']['gflop'] - q
    assert 2 * plain < official_model < 4 * plain  # clean, attack and adversarial passes
    assert fused_model < official_model


def test_dat_examples_draws_one_step_with_q_panels_and_prints_its_statistics(scratch, monkeypatch, capsys):
    import importlib.util

    import cv2
    spec = importlib.util.spec_from_file_location(
        'dat_examples', osp.join(REPO_ROOT, 'tools', 'analysis', 'dat_examples.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = osp.join(scratch, 'dat_examples.png')
    monkeypatch.chdir(scratch)
    monkeypatch.setattr(sys, 'argv', ['dat_examples.py', DAT, '--out', out, '--num-images', '2'])
    tool.main()
    printed = capsys.readouterr().out
    assert 'dat/delta_norm:' in printed and 'dat/adv_distance:' in printed and 'dat/code_flip:' in printed
    grid = cv2.imread(out)
    size = grid.shape[0] // 2  # two rows of x | Q(x) | x_adv | two difference panels
    assert grid.shape[1] >= 5 * size - 10


@pytest.mark.parametrize('package,config,loss_keys', [
    ('mmdet', DAT, ('loss', 'loss_cls', 'loss_conf', 'dat/loss_adv', 'dat/code_flip')),
    ('mmpretrain', osp.join(CONFIGS, 'resnet18_tiny_embedded_dat.py'), ('loss', 'dat/loss_adv'))])
def test_stock_train_tool_trains_a_dat_config_as_mmdat_s_does(scratch, package, config, loss_keys):
    """The train.py that mmdet / mmpretrain install under .mim/tools runs a DAT config through its
    custom_imports, with the same per-iteration losses as mmdat's tools/train.py for the seed."""
    import importlib
    stock_tool = osp.join(osp.dirname(importlib.import_module(package).__file__), '.mim', 'tools',
                          'train.py')
    runs = {}
    for name, tool in (('stock', stock_tool), ('mmdat', osp.join(REPO_ROOT, 'tools', 'train.py'))):
        work_dir = osp.join(scratch, f'{package}_{name}')
        env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH=REPO_ROOT)
        proc = subprocess.run([sys.executable, tool, config, '--work-dir', work_dir, '--cfg-options',
                               'train_cfg.max_iters=2', 'randomness.seed=0'], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = iteration_scalars(work_dir)
    assert sorted(runs['stock']) == sorted(runs['mmdat']) == [1, 2]
    for iteration in (1, 2):
        for key in loss_keys:
            expected = runs['mmdat'][iteration][key]
            assert runs['stock'][iteration][key] == pytest.approx(expected, rel=1e-6, abs=1e-7), \
                (iteration, key)

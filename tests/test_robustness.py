"""Corruption and adversarial robustness evaluation: the corruptions themselves, the cache, the
tools end to end (summary arithmetic, resume after a kill, cache hits, pre-generated COCO-C) and
their refusals of bad input."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, build_det_model, det_batch
from test_tools_e2e import run_tool

from mmdat.datasets.transforms import CorruptImage
from mmdat.evaluation.robustness import (BENCHMARK, AttackSpec, corrupt_image, corruption_seed,
                                         resolve_corruptions, summarize)

CONFIGS = osp.join(REPO_ROOT, 'tests', 'configs')
DET = osp.join(CONFIGS, 'yolov3_tiny_embedded.py')
CLS = osp.join(CONFIGS, 'resnet18_tiny_embedded.py')


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    return str(tmp_path_factory.mktemp('robustness'))


@pytest.fixture(scope='module')
def det_checkpoint(scratch):
    run_tool('train.py', DET, '--work-dir', osp.join(scratch, 'det'), cwd=scratch)
    return osp.join(scratch, 'det', 'iter_6.pth')


@pytest.fixture(scope='module')
def cls_checkpoint(scratch):
    run_tool('train.py', CLS, '--work-dir', osp.join(scratch, 'cls'), cwd=scratch)
    return osp.join(scratch, 'cls', 'iter_8.pth')


def photo(size=48):
    from skimage import data
    return np.ascontiguousarray(data.astronaut()[100:100 + size, 150:150 + size])


# -- corruptions --------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['gaussian_noise', 'impulse_noise', 'glass_blur', 'frost',
                                  'contrast', 'spatter'])
def test_corruption_equals_imagecorruptions_called_directly_with_the_same_seed(name):
    from imagecorruptions import corrupt
    image = photo()
    seed = corruption_seed('000001.png', name, 2)
    np.random.seed(seed)
    kwargs = dict(seed=seed) if name in ('glass_blur', 'impulse_noise') else {}
    direct = corrupt(image, severity=2, corruption_name=name, **kwargs)
    ours = corrupt_image(image, name, 2, seed)
    np.testing.assert_array_equal(ours, direct)
    np.testing.assert_array_equal(corrupt_image(image, name, 2, seed), ours)  # repeatable


@pytest.mark.parametrize('name', ['gaussian_noise', 'impulse_noise', 'glass_blur'])
def test_seeds_differ_per_image_and_leave_global_numpy_state_alone(name):
    image = photo()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = corrupt_image(image, name, 3, corruption_seed('a.png', name, 3))
    second = corrupt_image(image, name, 3, corruption_seed('b.png', name, 3))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_corruption_sets_resolve_and_unknown_names_are_refused():
    assert resolve_corruptions(['benchmark']) == list(BENCHMARK)
    assert resolve_corruptions(['noise', 'gaussian_noise', 'fog']) == [
        'gaussian_noise', 'shot_noise', 'impulse_noise', 'fog']
    with pytest.raises(ValueError, match='unknown corruption'):
        resolve_corruptions(['gausian_noise'])


def test_transform_writes_the_cache_then_reads_it_instead_of_corrupting(tmp_path):
    bgr = photo()[..., ::-1].copy()
    transform = CorruptImage('shot_noise', 4, cache_dir=str(tmp_path), image_root='/data')
    first = transform(dict(img=bgr.copy(), img_path='/data/x/0001.png'))['img']
    files = glob.glob(str(tmp_path / '**' / '*.png'), recursive=True)
    assert len(files) == 1
    rgb = bgr[..., ::-1].copy()
    expected = corrupt_image(rgb, 'shot_noise', 4, corruption_seed('x/0001.png', 'shot_noise', 4))
    np.testing.assert_array_equal(first, expected[..., ::-1])
    # overwrite the cached file: a cache hit must return its content, not a fresh corruption
    import cv2
    marker = np.full_like(bgr, 7)
    cv2.imwrite(files[0], marker)
    again = transform(dict(img=bgr.copy(), img_path='/data/x/0001.png'))['img']
    np.testing.assert_array_equal(again, marker)


# -- summary -------------------------------------------------------------------------------------------
def test_mpc_averages_exactly_the_evaluated_cells_and_flags_a_subset():
    clean = {'coco/bbox_mAP': 0.4}
    cells = {('gaussian_noise', 1): {'coco/bbox_mAP': 0.3}, ('fog', 3): {'coco/bbox_mAP': 0.1},
             ('spatter', 2): {'coco/bbox_mAP': 0.05}}
    summary = summarize(clean, cells, ['gaussian_noise', 'fog', 'spatter'], [1, 3])
    mAP = summary['metrics']['mAP']
    assert mAP['mPC'] == pytest.approx(0.2)  # holdout spatter not in mPC; missing cells not zeros
    assert mAP['rPC'] == pytest.approx(0.5)
    assert mAP['mPC_holdout'] == pytest.approx(0.05)
    assert not summary['protocol']['full_benchmark']
    assert any('not evaluated' in reason for reason in summary['protocol']['subset_reasons'])


# -- the tool, end to end ------------------------------------------------------------------------------
def read_result(out):
    with open(osp.join(out, 'robustness.json')) as file:
        return json.load(file)


def test_detector_summary_equals_a_hand_computation_from_its_cells(scratch, det_checkpoint):
    out = osp.join(scratch, 'det_rob')
    proc = run_tool('test_robustness.py', DET, det_checkpoint, '--out', out, '--corruptions',
                    'gaussian_noise', 'fog', '--severities', '1', '3', '--workers', '1',
                    cwd=scratch)
    assert 'subset run' in proc.stdout
    result = read_result(out)
    assert len(result['cells']) == 4
    cells = {(c['corruption'], c['severity']): c['metrics'] for c in result['cells']}
    for name, key in (('mAP', 'coco/bbox_mAP'), ('AP50', 'coco/bbox_mAP_50'),
                      ('AP_l', 'coco/bbox_mAP_l')):
        values = result['summary']['metrics'][name]
        assert values['P'] == result['clean'][key]
        assert values['mPC'] == pytest.approx(np.mean([m[key] for m in cells.values()]))
        if values['P'] > 0:
            assert values['rPC'] == pytest.approx(values['mPC'] / values['P'])
    assert not result['summary']['protocol']['full_benchmark']
    for name in ('robustness.md', 'robustness_per_corruption.png', 'robustness_per_severity.png'):
        assert osp.isfile(osp.join(out, name)), name


def test_classifier_reports_accuracy_mpc_and_mce(scratch, cls_checkpoint):
    out = osp.join(scratch, 'cls_rob')
    run_tool('test_robustness.py', CLS, cls_checkpoint, '--out', out, '--corruptions',
             'contrast', 'pixelate', '--severities', '2', '5', '--workers', '0', cwd=scratch)
    result = read_result(out)
    cells = {(c['corruption'], c['severity']): c['metrics'] for c in result['cells']}
    top1 = result['summary']['metrics']['top1']
    assert top1['P'] == result['clean']['accuracy/top1'] > 0
    assert top1['mPC'] == pytest.approx(np.mean([m['accuracy/top1'] for m in cells.values()]))
    assert top1['rPC'] == pytest.approx(top1['mPC'] / top1['P'])
    errors = result['corruption_errors']
    contrast = [1 - cells[('contrast', s)]['accuracy/top1'] / 100 for s in (2, 5)]
    assert errors['ce']['contrast'] == pytest.approx(100 * sum(contrast) / (2 * 0.853204))
    assert errors['mCE'] == pytest.approx(np.mean(list(errors['ce'].values())))


def test_killed_run_resumes_without_repeating_cells_and_rerun_hits_the_cache(scratch, det_checkpoint):
    out = osp.join(scratch, 'det_resume')
    args = ['--out', out, '--corruptions', 'gaussian_noise', 'shot_noise', 'impulse_noise',
            '--severities', '1', '2', '--workers', '1', '--cache-dir',
            osp.join(scratch, 'cache_resume')]
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH=REPO_ROOT)
    proc = subprocess.Popen([sys.executable, osp.join(REPO_ROOT, 'tools', 'test_robustness.py'),
                             DET, det_checkpoint, *args], cwd=scratch, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(glob.glob(osp.join(out, 'cells', '*.json'))) < 3:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {path: os.stat(path).st_mtime_ns for path in glob.glob(osp.join(out, 'cells', '*'))}
    assert 3 <= len(before) < 7, 'the run was not interrupted mid-grid'
    run_tool('test_robustness.py', DET, det_checkpoint, *args, cwd=scratch)
    after = {path: os.stat(path).st_mtime_ns for path in glob.glob(osp.join(out, 'cells', '*'))}
    assert len(after) == 7  # clean + 3 x 2
    assert all(after[path] == stamp for path, stamp in before.items())  # nothing redone
    assert len(read_result(out)['cells']) == 6

    cache = glob.glob(osp.join(scratch, 'cache_resume', '**', '*.png'), recursive=True)
    stamps = {path: os.stat(path).st_mtime_ns for path in cache}
    assert len(cache) == 6 * 8  # 8 val images per cell
    again = osp.join(scratch, 'det_resume_again')
    run_tool('test_robustness.py', DET, det_checkpoint, *args[2:], '--out', again, cwd=scratch)
    assert {path: os.stat(path).st_mtime_ns for path in glob.glob(
        osp.join(scratch, 'cache_resume', '**', '*.png'), recursive=True)} == stamps
    metrics = [cell['metrics'] for cell in read_result(out)['cells']]
    assert [cell['metrics'] for cell in read_result(again)['cells']] == metrics


@pytest.fixture(scope='module')
def fly_and_disk(scratch, det_checkpoint):
    """The same cell evaluated on the fly and from a directory that make_coco_c.py wrote: the two
    output directories. The val images are the ones det_checkpoint's training generated."""
    images = osp.join(scratch, 'data', 'embedded_det_tiny', 'val')
    coco_c = osp.join(scratch, 'coco_c')
    run_tool('make_coco_c.py', images, coco_c, '--corruptions', 'motion_blur', '--severities',
             '2', '--workers', '2', cwd=scratch)
    assert len(glob.glob(osp.join(coco_c, 'motion_blur', '2', '*.png'))) == 8
    common = ['--corruptions', 'motion_blur', '--severities', '2', '--workers', '0']
    fly, disk = osp.join(scratch, 'fly'), osp.join(scratch, 'disk')
    run_tool('test_robustness.py', DET, det_checkpoint, '--out', fly, *common, cwd=scratch)
    run_tool('test_robustness.py', DET, det_checkpoint, '--out', disk, '--corrupted-dir', coco_c,
             *common, cwd=scratch)
    return fly, disk


def test_pregenerated_directory_gives_the_same_metrics_as_on_the_fly(fly_and_disk):
    fly, disk = (read_result(out) for out in fly_and_disk)
    assert fly['cells'][0]['metrics'] == disk['cells'][0]['metrics']


def test_compare_prints_table_4_with_differences(scratch, fly_and_disk):
    plot = osp.join(scratch, 'compare.png')
    proc = run_tool('compare_robustness.py', *fly_and_disk, '--names', 'a', 'b', '--plot', plot,
                    cwd=scratch)
    assert '| run | P (mAP) | mPC | rPC (%) | ΔP | ΔmPC | ΔrPC |' in proc.stdout
    assert '| b |' in proc.stdout and '+0.00' in proc.stdout
    assert osp.isfile(plot)


# -- bad input: one line, before any work ----------------------------------------------------------------
def one_error_line(proc):
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith('mmdat: error:')]
    assert len(lines) == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize('extra, expected', [
    (['--corruptions', 'gausian_noise'], "unknown corruption 'gausian_noise'"),
    (['--severities', '0', '3'], 'severities must be in 1-5'),
    (['--severities', '6'], 'severities must be in 1-5'),
])
def test_bad_grid_arguments_are_refused(scratch, det_checkpoint, extra, expected):
    proc = run_tool('test_robustness.py', DET, det_checkpoint, '--out',
                    osp.join(scratch, 'bad'), *extra, cwd=scratch, check=False)
    assert expected in one_error_line(proc)


def test_missing_and_mismatched_checkpoints_are_refused(scratch, det_checkpoint, cls_checkpoint):
    out = osp.join(scratch, 'bad_ckpt')
    proc = run_tool('test_robustness.py', DET, 'nope.pth', '--out', out, cwd=scratch,
                    check=False)
    assert 'checkpoint file not found: nope.pth' in one_error_line(proc)
    proc = run_tool('test_robustness.py', DET, cls_checkpoint, '--out', out, cwd=scratch,
                    check=False)
    line = one_error_line(proc)
    assert cls_checkpoint in line and 'does not fit the model' in line and 'missing' in line
    assert not glob.glob(osp.join(out, 'cells', '*.json'))


def test_unwritable_out_and_config_without_test_dataloader_are_refused(scratch, det_checkpoint):
    blocker = osp.join(scratch, 'a_file')
    open(blocker, 'w').close()
    proc = run_tool('test_robustness.py', DET, det_checkpoint, '--out',
                    osp.join(blocker, 'out'), cwd=scratch, check=False)
    assert 'cannot be written' in one_error_line(proc)
    proc = run_tool('test_robustness.py', DET, det_checkpoint, '--out',
                    osp.join(scratch, 'no_loader'), '--cfg-options', 'test_dataloader=None',
                    cwd=scratch, check=False)
    assert 'no test_dataloader' in one_error_line(proc)


# -- adversarial ---------------------------------------------------------------------------------------
def test_one_step_attack_raises_the_full_detection_loss():
    from mmdat.evaluation.robustness import AdversarialBenchmark
    from mmdat.models.attacks import build_attack
    model = build_det_model()
    model.eval()
    data = model.data_preprocessor(det_batch([(3, 64, 64), (3, 64, 64)]), False)
    inputs, samples = data['inputs'], data['data_samples']
    attack = build_attack(AttackSpec('fgsm', 'linf', 4 / 255).attack_cfg())
    adversarial = AdversarialBenchmark._attacked(model, attack, inputs, samples,
                                                 torch.Generator().manual_seed(0))
    with torch.no_grad():
        clean = model.parse_losses(model(inputs, samples, mode='loss'))[0]
        attacked = model.parse_losses(model(adversarial, samples, mode='loss'))[0]
    assert attacked > clean
    change = (adversarial - inputs) * model.data_preprocessor.std.view(1, 3, 1, 1) / 255
    assert change.abs().max() <= 4 / 255 + 1e-5


def test_adversarial_tool_lowers_classifier_accuracy_and_writes_reports(scratch, cls_checkpoint):
    out = osp.join(scratch, 'adv')
    proc = run_tool('test_adversarial.py', CLS, cls_checkpoint, '--out', out, '--attacks', 'fgsm',
                    'pgd', '--norms', 'linf', 'l2', '--eps-linf', '16/255', '--eps-l2', '4',
                    '--steps', '3', '--workers', '0', cwd=scratch)
    with open(osp.join(out, 'adversarial.json')) as file:
        result = json.load(file)
    assert [row['name'] for row in result['attacks']] == ['fgsm_linf', 'fgsm_l2', 'pgd_linf',
                                                          'pgd_l2']
    clean = result['clean']['accuracy/top1']
    pgd = {row['name']: row['metrics']['accuracy/top1'] for row in result['attacks']}
    assert pgd['pgd_linf'] < clean and pgd['pgd_l2'] < clean
    assert '| pgd_linf |' in proc.stdout
    assert osp.isfile(osp.join(out, 'adversarial.png')) and osp.isfile(
        osp.join(out, 'adversarial.md'))


def test_a_run_file_of_the_path_and_size_format_still_resumes_its_own_checkpoint(tmp_path):
    from mmdat.evaluation.robustness.benchmark import _file_sha256, _upgrade_identity
    checkpoint = tmp_path / 'epoch_1.pth'
    checkpoint.write_bytes(b'weights')
    old = dict(config='/somewhere/configs/a.py', checkpoint=str(checkpoint), checkpoint_bytes=7,
               num_images=None, seed=0)
    assert _upgrade_identity(old, str(checkpoint)) == dict(
        config='a.py', checkpoint_sha256=_file_sha256(str(checkpoint)), num_images=None, seed=0)
    checkpoint.write_bytes(b'other weights')  # the same path, new weights: not the same run
    assert _upgrade_identity(old, str(checkpoint))['checkpoint_sha256'] is None


# -- the published sets as downloaded: make_coco_c's layout and ImageNet-C's ------------------------
def copy_tree_as_imagenet_c(coco_c, out, corruption, severity, crop=None):
    """Copy one cell of a make_coco_c.py tree into ImageNet-C's layout: class folders named like
    wnids (not the dataset's folders), optionally cropped to ``crop`` pixels as ImageNet-C's are."""
    import cv2
    source = osp.join(coco_c, corruption, str(severity))
    for index, path in enumerate(sorted(glob.glob(osp.join(source, '**', '*.png'), recursive=True))):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if crop:
            image = image[:crop, :crop]
        target = osp.join(out, corruption, str(severity), f'n{index % 3:08d}', osp.basename(path))
        os.makedirs(osp.dirname(target), exist_ok=True)
        cv2.imwrite(target, image)


@pytest.fixture(scope='module')
def cls_coco_c(scratch, cls_checkpoint):
    """The classifier's val images corrupted by make_coco_c.py (contrast 2), and the on-the-fly run."""
    images = osp.join(scratch, 'data', 'embedded_cls_tiny', 'val')
    coco_c = osp.join(scratch, 'cls_coco_c')
    run_tool('make_coco_c.py', images, coco_c, '--corruptions', 'contrast', '--severities', '2',
             '--workers', '1', cwd=scratch)
    fly = osp.join(scratch, 'cls_fly')
    run_tool('test_robustness.py', CLS, cls_checkpoint, '--out', fly, '--corruptions', 'contrast',
             '--severities', '2', '--workers', '0', cwd=scratch)
    return coco_c, read_result(fly)


def test_imagenet_c_layout_is_read_by_file_name_below_the_class_folders(scratch, cls_checkpoint,
                                                                        cls_coco_c):
    coco_c, fly = cls_coco_c
    imagenet_c = osp.join(scratch, 'imagenet_c')
    copy_tree_as_imagenet_c(coco_c, imagenet_c, 'contrast', 2)
    out = osp.join(scratch, 'cls_imagenet_c')
    run_tool('test_robustness.py', CLS, cls_checkpoint, '--out', out, '--corruptions', 'contrast',
             '--severities', '2', '--workers', '0', '--corrupted-dir', imagenet_c, cwd=scratch)
    assert read_result(out)['cells'][0]['metrics'] == fly['cells'][0]['metrics']

    missing = sorted(glob.glob(osp.join(imagenet_c, 'contrast', '2', '*', '*.png')))[5]
    os.remove(missing)
    proc = run_tool('test_robustness.py', CLS, cls_checkpoint, '--out', out + '_partial', '--corruptions',
                    'contrast', '--severities', '2', '--workers', '0', '--corrupted-dir', imagenet_c,
                    cwd=scratch, check=False)
    line = one_error_line(proc)
    assert 'contrast/2/ lacks 1 of 16 images' in line and osp.basename(missing) in line


def test_a_set_stored_at_its_own_size_is_fed_as_stored(scratch, cls_checkpoint, cls_coco_c):
    coco_c, fly = cls_coco_c
    cropped = osp.join(scratch, 'imagenet_c_48')
    copy_tree_as_imagenet_c(coco_c, cropped, 'contrast', 2, crop=48)
    out = osp.join(scratch, 'cls_imagenet_c_48')
    proc = run_tool('test_robustness.py', CLS, cls_checkpoint, '--out', out, '--corruptions',
                    'contrast', '--severities', '2', '--workers', '0', '--corrupted-dir', cropped,
                    cwd=scratch)
    assert 'fed as stored' in proc.stdout and '48x48' in proc.stdout
    assert read_result(out)['clean'] == fly['clean']


def test_stored_size_leaves_out_the_resize_and_crop_steps():
    from mmdat.evaluation.robustness.benchmark import corrupted_dataloader
    pipeline = [dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale=256),
                dict(type='CenterCrop', crop_size=224), dict(type='PackInputs')]
    loader = dict(dataset=dict(type='ImageNet', pipeline=pipeline))
    kept = corrupted_dataloader(loader, 'fog', 3, dict(stored_size=True), None, None)
    assert [step['type'] for step in kept['dataset']['pipeline']] == [
        'LoadImageFromFile', 'mmdat.CorruptImage', 'PackInputs']
    full = corrupted_dataloader(loader, 'fog', 3, {}, None, None)
    assert len(full['dataset']['pipeline']) == 5


def test_a_partial_tree_is_named_in_one_line_before_any_inference(scratch, det_checkpoint, fly_and_disk):
    """A missing severity folder, a missing image and a missing corruption folder: all three in the
    one error line, and not even the clean cell evaluated."""
    import shutil
    tree = osp.join(scratch, 'partial')
    shutil.copytree(osp.join(scratch, 'coco_c'), tree)
    removed = sorted(glob.glob(osp.join(tree, 'motion_blur', '2', '*.png')))[3]
    os.remove(removed)
    out = osp.join(scratch, 'partial_out')
    proc = run_tool('test_robustness.py', DET, det_checkpoint, '--out', out, '--corrupted-dir', tree,
                    '--corruptions', 'motion_blur', 'fog', '--severities', '2', '3', '--workers', '0',
                    cwd=scratch, check=False)
    line = one_error_line(proc)
    assert tree in line
    assert f'motion_blur/2/ lacks 1 of 8 images (first: {osp.basename(removed)})' in line
    assert 'no motion_blur/3/ folder' in line and 'no fog/ folder' in line
    assert not glob.glob(osp.join(out, 'cells', '*.json'))


def test_a_detection_set_of_another_size_is_refused(scratch, det_checkpoint, fly_and_disk):
    tree = osp.join(scratch, 'det_cropped')
    copy_tree_as_imagenet_c(osp.join(scratch, 'coco_c'), tree, 'motion_blur', 2, crop=40)
    out = osp.join(scratch, 'det_crop_out')
    proc = run_tool('test_robustness.py', DET, det_checkpoint, '--out', out, '--corrupted-dir', tree,
                    '--corruptions', 'motion_blur', '--severities', '2', '--workers', '0',
                    cwd=scratch, check=False)
    assert "annotations are in the clean images' pixels" in one_error_line(proc)


# -- across ranks -------------------------------------------------------------------------------------
def run_two_ranks(tool, *args, cwd):
    """``tool`` under torchrun with 2 gloo processes, through tools/dist_test_robustness.sh."""
    from test_ddp import free_port
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable, PORT=str(free_port()),
               TOOL=tool)
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', 'dist_test_robustness.sh'), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def test_two_ranks_give_the_cells_and_summary_of_one_process(scratch, det_checkpoint):
    common = ['--corruptions', 'gaussian_noise', '--severities', '1', '3', '--workers', '0',
              '--num-images', '7']  # odd: the sampler pads rank 1 with a repeat, the evaluator drops it
    one, two = osp.join(scratch, 'one_rank'), osp.join(scratch, 'two_ranks')
    run_tool('test_robustness.py', DET, det_checkpoint, '--out', one, *common, cwd=scratch)
    run_two_ranks('test_robustness.py', DET, det_checkpoint, '2', '--out', two, *common, cwd=scratch)
    single, split = read_result(one), read_result(two)
    assert split['clean'] == single['clean'] and split['clean']['coco/bbox_mAP_50'] > 0
    assert [cell['metrics'] for cell in split['cells']] == [cell['metrics'] for cell in single['cells']]
    assert split['summary']['metrics'] == single['summary']['metrics']

    # resume stays per cell: drop one cell, the two ranks evaluate only that one again
    stamps = {path: os.stat(path).st_mtime_ns for path in glob.glob(osp.join(two, 'cells', '*.json'))}
    dropped = osp.join(two, 'cells', 'gaussian_noise-3.json')
    os.remove(dropped)
    run_two_ranks('test_robustness.py', DET, det_checkpoint, '2', '--out', two, *common, cwd=scratch)
    assert all(os.stat(path).st_mtime_ns == stamp for path, stamp in stamps.items() if path != dropped)
    again = read_result(two)['cells']
    assert [cell['metrics'] for cell in again] == [cell['metrics'] for cell in split['cells']]


def test_two_ranks_give_the_adversarial_cells_of_one_process(scratch, cls_checkpoint):
    common = ['--attacks', 'pgd', '--norms', 'linf', 'l2', '--eps-linf', '8/255', '--eps-l2', '2',
              '--steps', '2', '--workers', '0', '--num-images', '15',
              '--cfg-options', 'test_dataloader.batch_size=1']
    one, two = osp.join(scratch, 'adv_one_rank'), osp.join(scratch, 'adv_two_ranks')
    run_tool('test_adversarial.py', CLS, cls_checkpoint, '--out', one, *common, cwd=scratch)
    run_two_ranks('test_adversarial.py', CLS, cls_checkpoint, '2', '--out', two, *common, cwd=scratch)
    results = []
    for out in (one, two):
        with open(osp.join(out, 'adversarial.json')) as file:
            results.append(json.load(file))
    assert results[1]['clean'] == results[0]['clean']
    assert [row['metrics'] for row in results[1]['attacks']] == [
        row['metrics'] for row in results[0]['attacks']]
    assert results[0]['attacks'][0]['metrics']['accuracy/top1'] < results[0]['clean']['accuracy/top1']

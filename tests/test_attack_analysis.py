"""The realism measures, the named attacks, the study's attack arms and the analysis tools' core on tiny
inputs (a random YOLOv3 and a tiny random VQGAN)."""
import argparse
import copy
import importlib.util
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, TINY_VQGAN, build_det_model, det_batch

from mmdat.apis.attack_analysis import AttackView
from mmdat.evaluation.realism import (frechet_distance, high_frequency_energy, high_frequency_share,
                                      radial_power_spectrum, unique_colours)
from mmdat.models.attacks import attack_config, build_attack
from mmdat.models.pixel_domain import PixelDomain


def load_tool(filename):
    """A tool of tools/analysis/ as a module: attack_share.py, perturbations.py."""
    spec = importlib.util.spec_from_file_location(filename[:-3], osp.join(REPO_ROOT, 'tools', 'analysis',
                                                                          filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_view(shapes=((3, 40, 56), (3, 56, 40))):
    """A random YOLOv3 (eval mode) with the tiny VQGAN, and one batch as the attacks see it."""
    model = build_det_model(dict(discretizer=TINY_VQGAN, attack=dict(type='L2Attack')))
    model.eval()
    batch = model.data_preprocessor(copy.deepcopy(det_batch(list(shapes))), False)
    domain = PixelDomain.of(model.data_preprocessor)
    view = AttackView(inputs=batch['inputs'], samples=batch['data_samples'],
                      x=domain.to_unit_rgb(batch['inputs']),
                      valid=domain.valid_mask(batch['inputs'], batch['data_samples']), model=model)
    return model, view


def test_realism_measures_on_images_whose_answer_is_known():
    two = torch.zeros(1, 3, 8, 8)
    two[..., :4] = 1.0
    assert int(unique_colours(two)) == 2
    checker = ((torch.arange(16).view(-1, 1) + torch.arange(16)) % 2).float().expand(1, 3, 16, 16)
    ramp = torch.linspace(0, 1, 16).view(1, 1, 1, -1).expand(1, 3, 16, 16)
    assert float(high_frequency_share(checker)) > 0.99
    assert float(high_frequency_share(ramp)) < 0.1
    # a vertical cosine of 1/4 cycle per pixel: all power at half the Nyquist frequency
    wave = torch.cos(torch.arange(32) * torch.pi / 2).view(1, 1, -1, 1).expand(1, 3, 32, 32)
    power, centres = radial_power_spectrum(wave, bins=16)
    assert centres[power[0].argmax()] == pytest.approx(0.5, abs=1 / 16)
    assert float(high_frequency_energy(wave, cutoff=0.4)) == pytest.approx(0.5)  # mean of cos²
    assert float(high_frequency_energy(wave, cutoff=0.6)) == pytest.approx(0.0, abs=1e-9)
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(200, 4, generator=generator)
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    shifted = frechet_distance(features, features + 2.0)
    assert shifted == pytest.approx(16.0, rel=0.01)  # ‖μa − μb‖² with equal covariances


def test_attack_names_give_the_documented_configs():
    assert attack_config('official-0.1') == dict(type='L2Attack', eps=0.1, step_size=0.1, steps=1,
                                                 random_start_prob=0.8)
    assert attack_config('codeflip-0.05-k32-s2') == dict(type='CodeFlipAttack', fraction=0.05, steps=2,
                                                         neighbours=32, selection='gain')
    assert attack_config('randomflip-0.2')['selection'] == 'random'
    assert attack_config('latentpgd-0.5-linf')['norm'] == 'linf'
    assert attack_config('qpgd-2-s4') == dict(type='QuantizedPGDAttack', eps=2.0, step_size=1.25, steps=4,
                                              random_start_prob=0.0)
    for bad in ('codeflip', 'hotflip-0.1', 'qpgd-2-k3', 'official-x', 'codeflip-0.1-linf'):
        with pytest.raises(ValueError, match='is not an attack name'):
            attack_config(bad)
    for name in ('official-0.1', 'codeflip-0.05', 'latentpgd-0.5', 'qpgd-2'):
        build_attack(attack_config(name))


@pytest.mark.parametrize('config, prefix', [
    ('configs/demo/efficientdet-lite0_dat-fused_8xb8-160-8e_embedded.py', 'model.data_preprocessor.dat'),
    ('configs/dat/resnet18_dat_8xb32-10e_embedded.py', 'data_preprocessor.dat')])
def test_an_attack_arm_replaces_the_attack_and_leaves_fused_for_separate(config, prefix):
    from mmengine.config import Config, DictAction

    from mmdat.apis.experiment import knob_options
    config = osp.join(REPO_ROOT, config)
    parser = argparse.ArgumentParser()  # the options as tools/train.py parses them
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = knob_options(config, dict(attack='codeflip-0.05-k32'))
    cfg = Config.fromfile(config)
    train_on = cfg.model.data_preprocessor.dat.train_on if prefix.startswith('model') \
        else cfg.data_preprocessor.dat.train_on
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    dat = cfg.model.data_preprocessor.dat if prefix.startswith('model') else cfg.data_preprocessor.dat
    assert dict(dat.attack) == dict(type='CodeFlipAttack', fraction=0.05, steps=1, neighbours=32,
                                    selection='gain')
    assert dat.train_on == ('separate' if train_on == 'fused' else train_on)


@pytest.mark.filterwarnings('ignore:VQGANDiscretizer')
@pytest.mark.filterwarnings('ignore:VQGANDiscretizer')
def test_attack_share_measures_each_attack_against_its_controls(tmp_path):
    tool = load_tool('attack_share.py')
    model, view = tiny_view()
    discretizer = model.data_preprocessor.discretizer
    rows = {name: tool.measure([view], discretizer, attack_config(name), seed=0)
            for name in ('official-0.1', 'codeflip-0.1', 'latentpgd-0.05', 'qpgd-2')}
    assert rows['codeflip-0.1']['words_changed'] == pytest.approx(0.1, abs=0.02)
    assert 'share_norm_control' in rows['qpgd-2'] and 'share_norm_control' in rows['latentpgd-0.05']
    assert 'share_norm_control' not in rows['codeflip-0.1']  # its control is the words one
    for row in rows.values():
        assert row['share'] == pytest.approx(row['loss_x_adv'] - row['loss_x_hat'])
        assert row['seconds_per_batch'] > 0
    table = tool.markdown(dict(tiny=rows), argparse.Namespace(discretizer=('tiny', ''), num_images=2,
                                                              batch_size=2))
    assert '| codeflip-0.1 |' in table and '1.00×' in table
    tool.plot(dict(tiny=rows), str(tmp_path / 'share.png'))
    assert (tmp_path / 'share.png').stat().st_size > 0


@pytest.mark.filterwarnings('ignore:VQGANDiscretizer')
def test_perturbation_analysis_runs_on_tiny_inputs(tmp_path):
    tool = load_tool('perturbations.py')
    model, view = tiny_view()
    assert [tuple(c.shape) for c in view.crops(view.x)] == [(3, 40, 56), (3, 56, 40)]
    sets = tool.example_sets([view], model.data_preprocessor.discretizer, 0.1, 'codeflip-0.1', seed=0)
    rows = tool.statistics_of(sets)
    assert list(rows) == list(tool.SETS)
    assert abs(rows['x']['frechet']) < 1e-2 < rows['code-flip DAE']['frechet']
    assert rows['x']['words_changed'] == 0
    assert rows['code-flip DAE']['words_changed'] == pytest.approx(0.1, abs=0.02)
    # the PAE's budget is the code-flip DAE's distance from x (what [0, 1] clamps falls short of it)
    budget = rows['code-flip DAE']['distance_x']
    assert 0.5 * budget < rows['PAE']['distance_x'] <= 1.001 * budget
    tool.figure(sets, 2, str(tmp_path / 'figure.png'))
    assert (tmp_path / 'figure.png').stat().st_size > 0
    args = tool.parse_args(['config.py', 'weights.pth', '--out', str(tmp_path)])
    assert '| PAE |' in tool.markdown(rows, args)

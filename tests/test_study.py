"""tools/study_efficacy.py's aggregation: paired differences, the attack's share and the verdict, on
finished runs (robustness.json and the training scalars) that the test writes."""
import argparse
import importlib.util
import json
import os
import os.path as osp
import re
import sys

import pytest
from conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location('study_efficacy',
                                              osp.join(REPO_ROOT, 'tools', 'study_efficacy.py'))
study_efficacy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study_efficacy)


def figures(text: str, anchor: str, count: int) -> list:
    """The first ``count`` numbers after ``anchor`` in ``text``: what a report's sentence says,
    whatever its wording."""
    tail = text[text.index(anchor) + len(anchor):]
    return [float(number.replace('−', '-')) for number in
            re.findall(r'[-+−]?\d+(?:\.\d+)?', tail)[:count]]


def write_run(root, seed, arm, P, mPC, code_flip=None):
    work_dir = osp.join(root, 'efficientdet-lite0', f'seed{seed}', arm)
    os.makedirs(osp.join(work_dir, 'robustness'))
    summary = dict(metrics=dict(mAP=dict(key='coco/bbox_mAP', P=P, mPC=mPC, rPC=mPC / P)),
                   protocol=dict(severities=[1, 3, 5]))
    with open(osp.join(work_dir, 'robustness', 'robustness.json'), 'w') as file:
        json.dump(dict(summary=summary), file)
    if code_flip is not None:
        os.makedirs(osp.join(work_dir, '20260101_000000', 'vis_data'))
        with open(osp.join(work_dir, '20260101_000000', 'vis_data', 'scalars.json'), 'w') as file:
            for epoch, flip in ((1, 0.5), (8, code_flip), (8, code_flip + 0.02)):
                file.write(json.dumps({'epoch': epoch, 'dat/code_flip': flip, 'loss': 1.0}) + '\n')


def study(tmp_path, runs, monkeypatch, capsys, arms=('normal', 'DAT', 'DAT-eps0'), records=()):
    for run in runs:
        write_run(str(tmp_path), *run)
    monkeypatch.setattr(sys, 'argv', ['study_efficacy.py', '--report-only', '--seeds', '0', '1',
                                      '--arms', *arms, '--work-dir', str(tmp_path)]
                        + (['--records', *records] if records else []))
    study_efficacy.main()
    rows = json.load(open(tmp_path / 'study.json'))
    return capsys.readouterr().out, rows


def test_a_gain_that_eps_0_matches_is_called_augmentation(tmp_path, monkeypatch, capsys):
    text, rows = study(tmp_path, [
        (0, 'normal', 0.20, 0.10), (0, 'DAT', 0.22, 0.14, 0.02), (0, 'DAT-eps0', 0.22, 0.15, 0.0),
        (1, 'normal', 0.30, 0.12), (1, 'DAT', 0.30, 0.16, 0.04), (1, 'DAT-eps0', 0.31, 0.16, 0.0)],
        monkeypatch, capsys)
    assert len(rows) == 6 and osp.isfile(tmp_path / 'study.png')
    dat = next(r for r in rows if r['arm'] == 'DAT' and r['seed'] == 1)
    assert abs(dat['dat/code_flip'] - 0.05) < 1e-9  # the mean over the last epoch only
    # paired by seed: ΔmPC = +4 and +4 points, ΔP = +2 and 0
    assert '| DAT | 0, 1 | 26.00 ± 5.66 | 15.00 ± 1.41 |' in text
    assert '+1.00 ± 1.41 | +4.00 ± 0.00 |' in text
    assert "the paper's direction" in text and 'not adversarial' in text


def test_a_gain_beyond_eps_0_is_called_adversarial_and_a_drop_is_said(tmp_path, monkeypatch, capsys):
    text, _ = study(tmp_path, [
        (0, 'normal', 0.20, 0.10), (0, 'DAT', 0.18, 0.14, 0.02), (0, 'DAT-eps0', 0.19, 0.10, 0.0),
        (1, 'normal', 0.30, 0.12), (1, 'DAT', 0.27, 0.17, 0.02), (1, 'DAT-eps0', 0.29, 0.12, 0.0),
        (0, 'DAT-eps0.5', 0.20, 0.15, 0.09)], monkeypatch, capsys,
        arms=('normal', 'DAT', 'DAT-eps0', 'DAT-eps0.5'))
    assert "not the paper's direction" in text  # clean mAP down by 2.5 points
    assert 'the gain is adversarial' in text
    # a tuning arm with one seed: paired against normal and eps 0 where both ran
    assert figures(text, 'With eps 0.5,', 4) == [5.0, 5.0, 0.0, 1.0]  # vs normal, vs eps 0, 1 seed
    assert '| DAT-eps0.5 | 0 | 20.00 | 15.00 |' in text


def test_a_sweep_without_the_default_arm_still_compares_each_eps_with_eps_0(tmp_path, monkeypatch, capsys):
    text, _ = study(tmp_path, [
        (0, 'normal', 0.20, 0.10), (0, 'DAT-eps0', 0.22, 0.14, 0.0), (0, 'DAT-eps4', 0.21, 0.15, 0.4),
        (1, 'normal', 0.30, 0.12), (1, 'DAT-eps0', 0.31, 0.16, 0.0), (1, 'DAT-eps4', 0.29, 0.15, 0.5)],
        monkeypatch, capsys, arms=('normal', 'DAT-eps0', 'DAT-eps4'))
    assert 'No seed has both a normal and a DAT run yet.' in text
    # eps 4 − eps 0: +1 and −1 points
    assert figures(text, 'With eps 4,', 6) == [4.0, 1.41, 0.0, 1.41, 0.0, 2.0]


def test_demo_ablation_names_the_kind_of_gain_the_study_names():
    """tools/demo.py reads one run per arm and says, with the study's words, which kind the gain is."""
    spec = importlib.util.spec_from_file_location('demo', osp.join(REPO_ROOT, 'tools', 'demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)

    def results(eps0_mpc):
        runs = dict(normal=(0.20, 0.10), DAT=(0.22, 0.14), **{demo.EPS0_RUN: (0.21, eps0_mpc)})
        return {name: dict(summary=dict(metrics=dict(mAP=dict(P=P, mPC=mPC, rPC=mPC / P))))
                for name, (P, mPC) in runs.items()}

    augmentation = demo.ablation(results(0.15))
    assert "the attack's own share is -1.00" in augmentation and 'not adversarial' in augmentation
    # a positive share from one run is not called adversarial: there is no spread to weigh it against
    assert 'not told apart from seed noise' in demo.ablation(results(0.11))
    assert 'tools/demo.py --eps0' in demo.ablation({})


def with_tiny_discretizer(arms):
    """The arms of the studies before 2026-12-07, which ran with the former default discretizer."""
    return [f'{arm}+discretizer=embedded-tiny-f4-4096' if arm.startswith('DAT') and 'discretizer=' not in arm
            else arm for arm in arms]


@pytest.mark.parametrize('model,arms,runs,record,document', [
    ('yolov3', ['normal', 'DAT', 'DAT-eps0'], 9, 'yolov3.json', 'docs/studies.md'),
    ('efficientdet-lite0', ['normal', 'normal-2x', 'DAT', 'normal-4x', 'DAT-2x'], 13,
     'efficientdet-lite0.json', 'docs/studies.md'),
    ('efficientdet-lite0', ['normal', 'DAT', 'DAT+train_on=adv'], 9, 'efficientdet-lite0.json',
     'docs/studies.md'),
    ('efficientdet-lite0', ['normal', 'DAT-eps0', 'DAT+attack=latentpgd-0.05-s1'], 9,
     'attacks_efficientdet-lite0.json', 'docs/attacks.md'),
    ('resnet18', ['normal', 'DAT-eps0', 'DAT+attack=latentpgd-0.05-s1', 'DAT', 'DAT-eps0.4'], 10,
     'attacks_resnet18.json', 'docs/attacks.md'),
    ('efficientdet-lite0', ['normal', 'DAT-eps0+discretizer=embedded-tiny-f4-4096',
                            'DAT+discretizer=embedded-tiny-f4-4096',
                            'DAT-eps0+discretizer=embedded-small-f4-4096',
                            'DAT+discretizer=embedded-small-f4-4096'], 15,
     'discretizer_efficientdet-lite0.json', 'docs/studies.md')])
def test_a_committed_record_gives_the_documented_table(tmp_path, monkeypatch, capsys, model, arms, runs,
                                                       record, document):
    """docs/studies/*.json keep a study's runs (their directories do not travel); the report drawn from
    one has the mean ± sd of P and mPC that its docs page quotes, arm by arm (its DAT arms named with the
    discretizer they ran with)."""
    arms = with_tiny_discretizer(arms)
    monkeypatch.setattr(sys, 'argv', ['study_efficacy.py', '--models', model, '--arms', *arms,
                                      '--report-only', '--work-dir', str(tmp_path), '--records',
                                      osp.join(REPO_ROOT, 'docs', 'studies', record)])
    study_efficacy.main()
    text = capsys.readouterr().out
    readme = open(osp.join(REPO_ROOT, document)).read()
    table = re.findall(r'^\| (\S+) \| [\d, ]+ \| ([^|]+) \| ([^|]+) \|', text, flags=re.M)
    assert [arm for arm, _, _ in table] == arms
    for arm, P, mPC in table:
        assert f'| {P.strip()} | {mPC.strip()} |' in readme, arm
    assert len(json.load(open(tmp_path / 'study.json'))) == runs
    assert 'Runs reported from records' in text  # each record says where its rows come from
    if model == 'yolov3':
        assert figures(text, f'Against {arms[2]}, {arms[1]} changed mPC by', 2) == [0.05, 1.62]


def test_a_run_in_the_work_dir_replaces_its_record_and_a_bad_record_is_named(tmp_path, monkeypatch,
                                                                             capsys):
    records = tmp_path / 'records.json'
    old = dict(model='efficientdet-lite0', severities=['1', '3', '5'], note='an older machine')
    records.write_text(json.dumps([dict(old, seed=0, arm='normal', P=0.5, mPC=0.25, rPC=0.5),
                                   dict(old, seed=1, arm='normal', P=0.30, mPC=0.12, rPC=0.4)]))
    work_dir = tmp_path / 'study'
    _, rows = study(work_dir, [(0, 'normal', 0.20, 0.10), (0, 'DAT', 0.22, 0.14, 0.02)], monkeypatch,
                    capsys, records=[str(records)])
    normal = {r['seed']: r for r in rows if r['arm'] == 'normal'}
    assert normal[0]['P'] == 0.20 and 'note' not in normal[0]  # the run, not its record
    assert normal[1]['P'] == 0.30 and normal[1]['note'] == 'an older machine'

    records.write_text(json.dumps([dict(old, seed=0, arm='normal', P=0.5)]))
    with pytest.raises(SystemExit, match=r'records\.json: row 0 has no mPC, rPC'):
        study(tmp_path / 'again', [], monkeypatch, capsys, records=[str(records)])


def test_a_dat_run_is_told_apart_by_its_discretizer(tmp_path, monkeypatch, capsys):
    """A DAT record is a run of the arm whose discretizer it was trained with: under the DAT configs'
    default it is ``DAT``, under another ``DAT+discretizer=<preset>``; a DAT record that does not say
    is refused, and so is a finished run whose dumped config has another discretizer than its arm."""
    from mmengine.config import Config
    default = study_efficacy.arm_discretizer('efficientdet-lite0', 'DAT')
    other = next(name for name in ('embedded-small-f4-4096', 'embedded-tiny-f4-4096') if name != default)
    records = tmp_path / 'records.json'
    old = dict(model='efficientdet-lite0', severities=['1', '3', '5'], note='an older study')
    records.write_text(json.dumps([
        dict(old, seed=0, arm='DAT', P=0.5, mPC=0.25, rPC=0.5, discretizer=other),
        dict(old, seed=0, arm='DAT', P=0.3, mPC=0.15, rPC=0.5, discretizer=default)]))
    _, rows = study(tmp_path / 'study', [], monkeypatch, capsys, records=[str(records)],
                    arms=('DAT', f'DAT+discretizer={other}'))
    assert {(r['arm'], r['P']) for r in rows} == {('DAT', 0.3), (f'DAT+discretizer={other}', 0.5)}

    records.write_text(json.dumps([dict(old, seed=0, arm='DAT', P=0.5, mPC=0.25, rPC=0.5)]))
    with pytest.raises(SystemExit, match=r'row 0 \(DAT\) does not say its discretizer'):
        study(tmp_path / 'again', [], monkeypatch, capsys, records=[str(records)])

    write_run(str(tmp_path / 'stale'), 0, 'DAT', 0.22, 0.14)
    dumped = Config(dict(model=dict(data_preprocessor=dict(dat=dict(discretizer=dict(preset=other))))))
    dumped.dump(str(tmp_path / 'stale' / 'efficientdet-lite0' / 'seed0' / 'DAT' / 'dat_config.py'))
    stale = f"trained with the discretizer {other}.*'DAT\\+discretizer={other}'"
    with pytest.raises(SystemExit, match=stale):
        study(tmp_path / 'stale', [], monkeypatch, capsys)


def test_normal_2x_stretches_the_schedule_and_dat_is_compared_with_it(tmp_path, monkeypatch, capsys):
    """``normal-2x`` sees the images DAT's two batches per step see: twice the epochs, the same
    schedule stretched over them (iteration warm-up kept), and the verdict compares DAT with it."""
    from mmengine.config import Config, DictAction

    from mmdat.apis.experiment import stretched_schedule
    expected = {
        'efficientdet-lite0': [dict(by_epoch=False, begin=0, end=100),
                               dict(by_epoch=True, begin=2, end=16, T_max=14)],
        'yolov3': [dict(by_epoch=False, begin=0, end=100), dict(milestones=[32, 38])]}
    for model, schedule in expected.items():
        config = osp.join(REPO_ROOT, study_efficacy.MODELS[model][0])
        parser = argparse.ArgumentParser()  # the options as tools/train.py parses them
        parser.add_argument('--cfg-options', nargs='+', action=DictAction)
        cfg = Config.fromfile(config)
        cfg.merge_from_dict(parser.parse_args(['--cfg-options', *stretched_schedule(config, 2)]).cfg_options)
        for scheduler, fields in zip(cfg.param_scheduler, schedule):
            assert {key: scheduler[key] for key in fields} == fields, model
    assert study_efficacy.arm_stretch('normal-2x') == 2 and study_efficacy.arm_stretch('DAT-4x') == 4
    assert all(study_efficacy.arm_stretch(arm) is None for arm in ('normal', 'normal-1x', 'DAT-eps2', 'DAT'))

    text, _ = study(tmp_path, [
        (0, 'normal', 0.20, 0.10), (0, 'normal-2x', 0.24, 0.12), (0, 'DAT', 0.25, 0.15, 0.02),
        (1, 'normal', 0.30, 0.12), (1, 'normal-2x', 0.32, 0.16), (1, 'DAT', 0.31, 0.17, 0.02),
        (0, 'normal-4x', 0.30, 0.15), (0, 'DAT-2x', 0.28, 0.14, 0.02)],
        monkeypatch, capsys, arms=('normal', 'normal-2x', 'DAT', 'normal-4x', 'DAT-2x'))
    # DAT − normal-2x: mPC +3 and +1 points, clean +1 and −1
    sentence = text[text.index('(normal-2x), DAT changed'):]
    assert figures(sentence, 'mPC by', 3) == [2.0, 1.41, 0.30]  # mean ± sd, paired t-test p
    assert figures(sentence, 'clean mAP by', 3) == [0.0, 1.41, 2.0]  # mean ± sd, seeds
    assert "the paper's direction" in sentence.split('\n')[0]
    # DAT-2x against normal-4x, the images it trains on
    assert figures(text, '(normal-4x), DAT-2x changed mPC by', 1) == [-1.0]


def test_demo_compares_dat_with_normal_trained_on_as_many_images():
    spec = importlib.util.spec_from_file_location('demo', osp.join(REPO_ROOT, 'tools', 'demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)

    def results(long_P, long_mPC):
        runs = dict(normal=(0.08, 0.05), DAT=(0.14, 0.09), **{demo.LONG_RUN: (long_P, long_mPC)})
        return {name: dict(summary=dict(metrics=dict(mAP=dict(P=P, mPC=mPC, rPC=mPC / P))))
                for name, (P, mPC) in runs.items()}

    behind = demo.equal_images(results(0.20, 0.12))
    assert figures(behind, 'reaches P', 3) == [20.0, 12.0, 60.0]
    assert figures(behind, 'DAT changed mPC by', 3) == [-3.0, 4.3, -6.0]  # mPC, rPC, clean
    assert "DAT is not ahead in the paper's direction" in behind
    assert 'ahead in the paper\'s direction at equal images' in demo.equal_images(results(0.14, 0.08))
    assert 'without `--no-normal-2x`' in demo.equal_images({})


def test_demo_answer_weighs_both_baselines():
    """The report's first sentence does not call DAT's same-schedule gain the paper's direction when
    normal trained on as many images is ahead of it (the demo's own seed-0 numbers)."""
    spec = importlib.util.spec_from_file_location('demo', osp.join(REPO_ROOT, 'tools', 'demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)

    def results(**runs):
        return {name.replace('_', '-'): dict(summary=dict(metrics=dict(mAP=dict(P=P, mPC=mPC, rPC=mPC / P))))
                for name, (P, mPC) in runs.items()}

    measured = results(normal=(0.081, 0.0512), DAT=(0.137, 0.0877), normal_2x=(0.197, 0.1178))
    assert demo.answer(measured).startswith('**DAT did not help beyond more training**')
    assert demo.verdict(measured).startswith('Against normal on the same schedule, DAT raised mPC')
    assert "That is the paper's direction" in demo.verdict(measured)
    assert 'not measured without normal-2x' in demo.answer(results(normal=(0.08, 0.05), DAT=(0.14, 0.09)))
    assert demo.answer(results(normal=(0.08, 0.05), DAT=(0.14, 0.09), normal_2x=(0.10, 0.055))
                       ).startswith('**DAT helped**')
    assert demo.answer(results(normal=(0.14, 0.09), DAT=(0.08, 0.05), normal_2x=(0.20, 0.12))
                       ).startswith('**DAT did not help here**')


def test_knob_arms_set_the_documented_knobs_and_are_compared_with_their_base(
        tmp_path, monkeypatch, capsys):
    """``DAT+<knob>=<value>`` reaches the DAT block or the DATHook of the built config, a bad knob is
    refused with the list of knobs, and the report compares the arm with normal and with plain DAT."""
    from mmengine.config import Config, DictAction

    from mmdat.apis.experiment import knob_options
    config = osp.join(REPO_ROOT, study_efficacy.MODELS['efficientdet-lite0'][1])
    parser = argparse.ArgumentParser()  # the options as tools/train.py parses them
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    base, knobs = study_efficacy.arm_parts('DAT-eps4+train_on=adv+begin_iter=200')
    assert base == 'DAT-eps4' and knobs == dict(train_on='adv', begin_iter='200')
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', *knob_options(config, knobs)]).cfg_options)
    assert cfg.model.data_preprocessor.dat.train_on == 'adv'
    assert cfg.custom_hooks[0].type == 'mmdat.DATHook' and cfg.custom_hooks[0].begin_iter == 200
    with pytest.raises(ValueError, match=r"\['eps'\] are not DAT knobs"):
        knob_options(config, dict(eps='4'))
    normal_config = osp.join(REPO_ROOT, study_efficacy.MODELS['efficientdet-lite0'][0])
    with pytest.raises(ValueError, match='has no DATHook'):
        knob_options(normal_config, dict(prob='0.5'))
    for arm in ('normal+train_on=adv', 'DAT+eps=4', 'DAT+train_on='):
        with pytest.raises(argparse.ArgumentTypeError):
            study_efficacy.arm_name(arm)

    text, _ = study(tmp_path, [
        (0, 'normal', 0.20, 0.10), (0, 'DAT', 0.25, 0.15, 0.02), (0, 'DAT+train_on=adv', 0.20, 0.12, 0.03),
        (1, 'normal', 0.30, 0.12), (1, 'DAT', 0.31, 0.17, 0.02), (1, 'DAT+train_on=adv', 0.30, 0.16, 0.03)],
        monkeypatch, capsys, arms=('normal', 'DAT', 'DAT+train_on=adv'))
    # against normal: mPC +2 and +4, clean 0 and 0; against DAT: mPC −3 and −1
    sentence = text[text.index('Against normal, DAT+train_on=adv changed'):]
    assert figures(sentence, 'mPC by', 3) == [3.0, 1.41, 0.20]
    assert figures(sentence, 'clean mAP by', 3) == [0.0, 0.0, 2.0]
    assert figures(text, 'Against DAT, DAT+train_on=adv changed mPC by', 2) == [-2.0, 1.41]
    # a sweep without a DAT arm still compares each knob arm with normal
    text, _ = study(tmp_path / 'sweep', [
        (0, 'normal', 0.20, 0.10), (0, 'DAT+bn_mode=eval', 0.22, 0.13, 0.02)],
        monkeypatch, capsys, arms=('normal', 'DAT+bn_mode=eval'))
    assert 'No seed has both a normal and a DAT run yet.' in text
    assert figures(text, 'Against normal, DAT+bn_mode=eval changed mPC by', 1) == [3.0]


def test_a_discretizer_arm_swaps_in_the_shipped_weights_and_its_attack_is_weighed_against_its_eps0(
        tmp_path, monkeypatch, capsys):
    """``+discretizer=<preset>`` sets the preset and its shipped file (a preset mmdat does not ship is
    refused, naming those it does); the arm's attack share is taken against the eps-0 arm with the same
    discretizer, and the default discretizer's arms are compared with the same arms on the other one."""
    from mmengine.config import Config

    from mmdat.apis.experiment import knob_options
    config = osp.join(REPO_ROOT, study_efficacy.MODELS['efficientdet-lite0'][1])
    options = knob_options(config, dict(discretizer='embedded-small-f4-4096'))
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(option.split('=', 1) for option in options))
    discretizer = cfg.model.data_preprocessor.dat.discretizer
    assert discretizer.preset == 'embedded-small-f4-4096'
    shipped = osp.join(REPO_ROOT, 'checkpoints', 'vqgan_small_f4_embedded.pth')
    assert osp.samefile(discretizer.checkpoint, shipped)
    with pytest.raises(ValueError, match="no weights for preset 'openimages-f8-16384'.*tiny-f4-4096"):
        knob_options(config, dict(discretizer='openimages-f8-16384'))

    default = study_efficacy.arm_discretizer('efficientdet-lite0', 'DAT')
    other = next(name for name in ('embedded-small-f4-4096', 'embedded-tiny-f4-4096') if name != default)
    mine, theirs = f'+discretizer={default}', f'+discretizer={other}'
    arms = ('normal', 'DAT' + mine, 'DAT-eps0' + mine, 'DAT' + theirs, 'DAT-eps0' + theirs)
    text, _ = study(tmp_path, [
        (0, 'normal', 0.20, 0.10), (0, 'DAT' + mine, 0.25, 0.15, 0.02),
        (0, 'DAT-eps0' + mine, 0.25, 0.15, 0.0), (0, 'DAT' + theirs, 0.25, 0.16, 0.02),
        (0, 'DAT-eps0' + theirs, 0.25, 0.12, 0.0), (1, 'normal', 0.30, 0.12),
        (1, 'DAT' + mine, 0.31, 0.17, 0.02), (1, 'DAT-eps0' + mine, 0.31, 0.17, 0.0),
        (1, 'DAT' + theirs, 0.31, 0.18, 0.02), (1, 'DAT-eps0' + theirs, 0.31, 0.16, 0.0)],
        monkeypatch, capsys, arms=arms)
    # the attack's share with the other discretizer: mPC +4 and +2; with the default one: 0 and 0
    assert figures(text, f'Against DAT-eps0{theirs}, DAT{theirs} changed mPC by', 2) == [3.0, 1.41]
    assert figures(text, f'Against DAT-eps0{mine}, DAT{mine} changed mPC by', 2) == [0.0, 0.0]
    assert f'Against DAT-eps0, DAT{theirs}' not in text
    # the default discretizer's arms against the same arms on the other one
    assert figures(text, f'Against DAT{theirs}, DAT{mine} changed mPC by', 2) == [-1.0, 0.0]
    assert figures(text, f'Against DAT-eps0{theirs}, DAT-eps0{mine} changed mPC by', 2) == [2.0, 1.41]
    assert f'Against DAT{mine}, DAT{theirs}' not in text


def test_a_classifier_study_reports_accuracy_in_points_with_mce_and_adversarial_accuracy(
        tmp_path, monkeypatch, capsys):
    """ResNet-18 runs: top-1 (percent in robustness.json) becomes points like mAP × 100, and mCE and each
    adversarial cell get a column with the paired Δ to normal."""
    for seed, arm, top1, corrupted, mce, pgd in ((0, 'normal', 80.0, 50.0, 90.0, 10.0),
                                                 (0, 'DAT-eps0', 82.0, 56.0, 80.0, 14.0)):
        work_dir = osp.join(tmp_path, 'resnet18', f'seed{seed}', arm)
        os.makedirs(osp.join(work_dir, 'robustness'))
        os.makedirs(osp.join(work_dir, 'adversarial'))
        summary = dict(metrics=dict(top1=dict(key='accuracy/top1', P=top1, mPC=corrupted,
                                              rPC=corrupted / top1)), protocol=dict(severities=[1, 3, 5]))
        with open(osp.join(work_dir, 'robustness', 'robustness.json'), 'w') as file:
            json.dump(dict(summary=summary, corruption_errors=dict(mCE=mce)), file)
        with open(osp.join(work_dir, 'adversarial', 'adversarial.json'), 'w') as file:
            json.dump(dict(attacks=[dict(name='pgd_linf', eps=4 / 255,
                                         metrics={'accuracy/top1': pgd})]), file)
    monkeypatch.setattr(sys, 'argv', ['study_efficacy.py', '--models', 'resnet18', '--report-only',
                                      '--seeds', '0', '--arms', 'normal', 'DAT-eps0',
                                      '--work-dir', str(tmp_path)])
    study_efficacy.main()
    text = capsys.readouterr().out
    assert '| DAT-eps0 | 0 | 82.00 | 56.00 |' in text
    assert '| arm | mCE | adv pgd_linf 0.01569 |' in text
    assert '| DAT-eps0 | 80.00 (-10.00) | 14.00 (+4.00) |' in text

"""DAT in self-supervised pre-training: mmpretrain's MoCo v3, SimCLR and SimSiam (shrunk, random init)
with ``mmdat.DATSelfSupDataPreprocessor``: the attack raises the algorithm's own loss, no gradient
leaks into the parameters, and MoCo v3's momentum encoder is updated once per iteration."""
import copy
import os.path as osp

import mmpretrain
import pytest
import torch
from conftest import IDENTITY_DAT, REPO_ROOT, bind, same_norm_noise
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample
from test_tools_e2e import run_tool

from mmdat.models.data_preprocessors import DATIterationPlan, frozen_averages
from mmdat.models.full_loss import full_loss

MMPRETRAIN_CONFIGS = osp.join(mmpretrain.__path__[0], '.mim', 'configs')
ALGORITHMS = {
    'MoCoV3': 'mocov3/mocov3_resnet50_8xb512-amp-coslr-100e_in1k.py',
    'SimCLR': 'simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py',
    'SimSiam': 'simsiam/simsiam_resnet50_8xb32-coslr-100e_in1k.py',
}
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def build_selfsup(algorithm: str, dat=None, seed: int = 0):
    """mmpretrain's algorithm config with a ResNet-18 of base width 16 and narrow MLPs."""
    cfg = Config.fromfile(osp.join(MMPRETRAIN_CONFIGS, ALGORITHMS[algorithm])).model
    cfg.backbone.update(depth=18, base_channels=16, stem_channels=16, norm_cfg=dict(type='BN'))
    cfg.neck.update(in_channels=128, hid_channels=64, out_channels=32)
    if cfg.head.get('predictor') is not None:
        cfg.head.predictor.update(in_channels=32, hid_channels=64, out_channels=32)
    cfg.data_preprocessor = dict(type='mmdat.DATSelfSupDataPreprocessor', dat=dat, **NORM)
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    from mmpretrain.registry import MODELS
    return MODELS.build(cfg)


def two_view_batch(num_images: int = 6, size: int = 32) -> dict:
    """What mmpretrain's collate gives for MultiView(num_views=[1, 1]): one uint8 batch per view."""
    generator = torch.Generator().manual_seed(0)
    views = [torch.randint(0, 256, (num_images, 3, size, size), dtype=torch.uint8, generator=generator)
             for _ in range(2)]
    return dict(inputs=views, data_samples=[DataSample() for _ in range(num_images)])


def loss_of(model, views) -> float:
    with torch.no_grad(), frozen_averages(model):  # MoCo v3 updates its momentum encoder in loss()
        return float(full_loss(model, views, None))


@pytest.mark.parametrize('algorithm', list(ALGORITHMS))
def test_attack_raises_the_selfsup_loss_more_than_random_noise_of_the_same_norm(algorithm):
    eps = 2.0
    attack = dict(type='L2Attack', eps=eps, step_size=eps, random_start_prob=0.0)
    model = build_selfsup(algorithm, dict(IDENTITY_DAT, train_on='adv', attack=attack))
    model.eval()  # the same normalisation for every loss below
    preprocessor = model.data_preprocessor
    batch = two_view_batch()
    stock = preprocessor(copy.deepcopy(batch), training=False)['inputs']
    bind(model)
    adversarial = preprocessor(copy.deepcopy(batch), training=True)['inputs']
    assert isinstance(adversarial, list) and len(adversarial) == 2
    clean, moved = torch.cat(stock), torch.cat(adversarial)
    norms = (preprocessor.to_unit_rgb(moved) - preprocessor.to_unit_rgb(clean)).flatten(1).norm(dim=1)
    assert (norms > 0.5 * eps).all()  # every image of both views moved
    noisy = same_norm_noise(preprocessor, clean, None, norms).chunk(2)
    assert loss_of(model, adversarial) > loss_of(model, list(noisy))
    assert loss_of(model, adversarial) > loss_of(model, stock)


@pytest.mark.parametrize('algorithm', list(ALGORITHMS))
@pytest.mark.parametrize('train_on', ['adv', 'separate'])
def test_attack_leaves_parameter_grads_untouched(algorithm, train_on):
    model = build_selfsup(algorithm, dict(IDENTITY_DAT, train_on=train_on))
    bind(model)
    model.data_preprocessor(two_view_batch(), training=True)
    grads = [p.grad for p in model.parameters()]
    if train_on == 'adv':
        assert all(grad is None for grad in grads)
    else:  # 'separate' back-propagates the clean loss on purpose; the attack adds nothing to it
        reference = build_selfsup(algorithm)
        reference.train()
        views = reference.data_preprocessor(two_view_batch(), training=False)['inputs']
        reference.parse_losses(reference(views, None, mode='loss'))[0].backward()
        for grad, expected in zip(grads, (p.grad for p in reference.parameters())):
            assert (grad is None) == (expected is None)
            if grad is not None:
                torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize('train_on', ['adv', 'separate', 'fused'])
def test_mocov3_momentum_encoder_after_a_dat_iteration_equals_a_plain_iteration(train_on):
    batch = two_view_batch()
    plain = build_selfsup('MoCoV3')
    dat = build_selfsup('MoCoV3', dict(IDENTITY_DAT, train_on=train_on, bn_mode='freeze'))
    MessageHub.get_current_instance().update_info('max_iters', 100)  # CosineEMA's schedule reads it
    for model in (plain, dat):
        model.train()
        model.momentum_encoder.steps.fill_(5)  # mid-training: an update mixes, it does not copy
        with torch.no_grad():
            for parameter in model.momentum_encoder.module.parameters():
                parameter.mul_(0.5)
    plain.train_step(copy.deepcopy(batch), OptimWrapper(torch.optim.SGD(plain.parameters(), lr=0.1)))
    dat.train_step(copy.deepcopy(batch), bind(dat, DATIterationPlan(collect_stats=True), lr=0.1))
    assert dat.data_preprocessor.dat_report.stats['loss_adv'] > 0  # the attack and the stats ran
    plain_ema, dat_ema = plain.momentum_encoder, dat.momentum_encoder
    assert int(plain_ema.steps) == int(dat_ema.steps) == 6
    for (name, expected), actual in zip(plain_ema.module.named_parameters(), dat_ema.module.parameters()):
        assert torch.equal(actual, expected), name
    # (its BN running statistics are not compared: its own forward in the training step sees the
    # adversarial views, so they follow those images, as they should)
    # the online networks did train differently (else the comparison above would prove nothing)
    assert not all(torch.equal(a, b) for a, b in zip(plain.backbone.parameters(), dat.backbone.parameters()))


def test_clean_plus_adv_and_views_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match='negatives of each other'):
        build_selfsup('SimCLR', dict(IDENTITY_DAT, train_on='clean+adv'))
    model = build_selfsup('SimCLR', dict(IDENTITY_DAT))
    assert model.data_preprocessor.train_on == 'separate'  # the default for view lists
    batch = two_view_batch()
    batch['inputs'][1] = batch['inputs'][1][:, :, :24, :24]
    bind(model)
    with pytest.raises(ValueError, match='the views differ in size'):
        model.data_preprocessor(batch, training=True)


def test_cpu_pretraining_and_linear_probe_run_end_to_end(tmp_path):
    """DAT MoCo v3 pre-training (2 iterations), the linear probe on its checkpoint, tools/test.py."""
    configs = osp.join(REPO_ROOT, 'tests', 'configs')
    pretrain = str(tmp_path / 'pretrain')
    proc = run_tool('train.py', osp.join(configs, 'mocov3_tiny_embedded_dat.py'), '--work-dir', pretrain,
                    cwd=tmp_path)
    assert 'dat/loss_xhat' in proc.stdout + proc.stderr
    checkpoint = osp.join(pretrain, 'iter_2.pth')
    probe = str(tmp_path / 'probe')
    run_tool('train.py', osp.join(configs, 'mocov3_tiny_linear_probe.py'), '--work-dir', probe,
             '--cfg-options', f'model.backbone.init_cfg.checkpoint={checkpoint}', cwd=tmp_path)
    pretrained = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    probed = torch.load(osp.join(probe, 'iter_4.pth'), map_location='cpu', weights_only=False)['state_dict']
    for key, value in pretrained.items():  # the frozen backbone is the pre-trained one
        if key.startswith('backbone.') and 'num_batches_tracked' not in key:
            assert torch.equal(probed[key], value), key
    proc = run_tool('test.py', osp.join(configs, 'mocov3_tiny_linear_probe.py'),
                    osp.join(probe, 'iter_4.pth'), '--work-dir', str(tmp_path / 'test'), cwd=tmp_path)
    assert 'accuracy/top1' in proc.stdout + proc.stderr

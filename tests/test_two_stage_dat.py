"""DAT on a two-stage detector: a shrunk mmdet Faster R-CNN (random init), RPN and RoI terms attacked.

The RPN and RoI samplers draw from torch's global generator, so every loss below is evaluated after
``torch.manual_seed`` with the seed the attack's own pass saw: the sampled anchors are the same and the
comparison of x̂, x̂ + δ and x̂ + noise is not decided by sampling luck.
"""
import copy
import os.path as osp

import mmdet
import pytest
import torch
from conftest import DET_NORM, IDENTITY_DAT, bind, same_norm_noise
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmdat.engine.hooks import DATHook
from mmdat.models.data_preprocessors import DATIterationPlan

# mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py (Config.fromfile does not resolve 'mmdet::' itself)
FASTER_RCNN_CONFIG = osp.join(mmdet.__path__[0], '.mim', 'configs', 'faster_rcnn',
                              'faster-rcnn_r50_fpn_1x_coco.py')
NUM_CLASSES = 3
RPN_TERMS = ('loss_rpn_cls', 'loss_rpn_bbox')
ROI_TERMS = ('loss_cls', 'loss_bbox')
SEED = 1234


def faster_rcnn_cfg(dat: dict) -> Config:
    """mmdet's Faster R-CNN R50-FPN shrunk to a ResNet-18, 32-channel FPN and few proposals/RoIs."""
    cfg = Config.fromfile(FASTER_RCNN_CONFIG).model
    cfg.backbone.update(depth=18, init_cfg=None)
    cfg.neck.update(in_channels=[64, 128, 256, 512], out_channels=32)
    cfg.rpn_head.update(in_channels=32, feat_channels=32)
    cfg.roi_head.bbox_roi_extractor.out_channels = 32
    cfg.roi_head.bbox_head.update(in_channels=32, fc_out_channels=64, num_classes=NUM_CLASSES)
    cfg.train_cfg.rpn.sampler.num = 64
    cfg.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=64)
    cfg.train_cfg.rcnn.sampler.num = 32
    cfg.test_cfg.rpn.update(nms_pre=200, max_per_img=64)
    cfg.data_preprocessor = dict(type='mmdat.DATDataPreprocessor', dat=dat, **DET_NORM)
    return cfg  # a ConfigDict: TwoStageDetector reads train_cfg.rpn as an attribute


def build_faster_rcnn(dat: dict, seed: int = 0):
    init_default_scope('mmdet')
    torch.manual_seed(seed)
    model = MODELS.build(faster_rcnn_cfg(dat))
    model.train()
    return model


def two_stage_batch() -> dict:
    """Two BGR uint8 images of different sizes (so the batch is padded), three GT boxes each."""
    generator = torch.Generator().manual_seed(0)
    shapes = [(96, 128), (128, 96)]
    boxes = [[[8, 10, 60, 70], [50, 20, 120, 90], [30, 40, 70, 88]],
             [[5, 5, 50, 60], [40, 50, 90, 120], [10, 70, 60, 110]]]
    labels = [[0, 1, 2], [2, 0, 1]]
    inputs, samples = [], []
    for (h, w), bboxes, classes in zip(shapes, boxes, labels):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=generator, dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor(bboxes, dtype=torch.float32),
                                           labels=torch.tensor(classes))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def preprocess_for_training(model, batch: dict, seed: int) -> dict:
    """The preprocessor call of mmengine's ``train_step`` (inside the optim context), with the global
    generator seeded so the attack's pass samples anchors and RoIs from ``seed``."""
    torch.manual_seed(seed)
    with model.kept_optim_wrapper.optim_context(model):
        return model.data_preprocessor(copy.deepcopy(batch), training=True)


def loss_terms(model, inputs, samples, seed: int) -> dict:
    torch.manual_seed(seed)
    return model(inputs, samples, mode='loss')


def summed(losses: dict, keys=None) -> torch.Tensor:
    """Sum of the ``*loss*`` entries (lists summed), as mmengine's ``parse_losses``; ``keys`` restricts it."""
    keys = [k for k in losses if 'loss' in k] if keys is None else keys
    return sum(sum(losses[k]) if isinstance(losses[k], (list, tuple)) else losses[k] for k in keys)


def loss_at(model, inputs, samples, seed: int) -> float:
    with torch.no_grad():
        return float(summed(loss_terms(model, inputs, samples, seed)))


def test_faster_rcnn_loss_has_rpn_and_roi_terms_and_the_attack_sees_all_of_them():
    model = build_faster_rcnn(dict(IDENTITY_DAT, train_on='adv'))
    dp = model.data_preprocessor
    batch = two_stage_batch()
    stock = dp(copy.deepcopy(batch), training=False)
    losses = loss_terms(model, stock['inputs'], stock['data_samples'], SEED)
    assert set(RPN_TERMS + ROI_TERMS) <= set(losses)
    assert 'acc' in losses  # a metric, not a loss: parse_losses and the attack leave it out
    total = model.parse_losses(losses)[0]
    torch.testing.assert_close(total, summed(losses, RPN_TERMS + ROI_TERMS))
    assert float(summed(losses, ROI_TERMS).detach()) > 0.1 * float(total.detach())

    bind(model)
    valid = dp.valid_mask(stock['inputs'], stock['data_samples'])
    x_hat = dp.from_unit_rgb(dp.to_unit_rgb(stock['inputs']), stock['inputs'], valid)  # Q = identity
    preprocess_for_training(model, batch, SEED)
    expected = loss_at(model, x_hat, stock['data_samples'], SEED)
    assert dp.dat_report.stats['loss_xhat'] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('train_on', ['clean+adv', 'fused'])
def test_dat_train_step_runs_on_faster_rcnn(train_on):
    model = build_faster_rcnn(dict(IDENTITY_DAT, train_on=train_on))
    batch = two_stage_batch()
    hook = DATHook(stats_interval=1)
    wrapper = bind(model, hook.plan(0, seed=0))  # bind_dat(model, optim_wrapper), as DATHook.before_train
    before = copy.deepcopy(model.state_dict())
    torch.manual_seed(SEED)
    log_vars = model.train_step(copy.deepcopy(batch), wrapper)

    assert set(RPN_TERMS + ROI_TERMS) <= set(log_vars)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log_vars.values())
    stats = model.data_preprocessor.dat_report.stats
    eps = IDENTITY_DAT['attack']['eps']
    assert 0.99 * eps < stats['delta_norm'] <= eps * 1.0001  # on the ball, minus what [0, 1] clamps
    assert stats['nonfinite'] == 0
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())
    assert model.data_preprocessor.dat_plan is None  # the plan was used by this iteration
    after = model.state_dict()  # lr = 0 and frozen BN: nothing moved, running statistics included
    assert all(torch.equal(v, after[k]) for k, v in before.items())


def test_attack_raises_the_full_two_stage_loss_more_than_random_noise_of_the_same_norm():
    eps = 4.0
    model = build_faster_rcnn(dict(IDENTITY_DAT, train_on='adv',
                                   attack=dict(type='L2Attack', eps=eps, step_size=eps,
                                               random_start_prob=0.0)))
    dp = model.data_preprocessor
    batch = two_stage_batch()
    bind(model, DATIterationPlan(collect_stats=False))
    stock = dp(copy.deepcopy(batch), training=False)
    samples = stock['data_samples']
    adv = preprocess_for_training(model, batch, SEED)

    valid = dp.valid_mask(stock['inputs'], samples)
    x_hat = dp.to_unit_rgb(stock['inputs'])  # Q = identity
    delta = dp.to_unit_rgb(adv['inputs']) - x_hat
    norms = delta.flatten(1).norm(dim=1)
    assert torch.all((0.9 * eps < norms) & (norms <= eps * 1.0001))
    noisy = same_norm_noise(dp, stock['inputs'], samples, norms)
    clean = dp.from_unit_rgb(x_hat, stock['inputs'], valid)

    clean_loss = loss_at(model, clean, samples, SEED)
    random_loss = loss_at(model, noisy, samples, SEED)
    adv_loss = loss_at(model, adv['inputs'], samples, SEED)
    print(f'faster r-cnn full loss: clean {clean_loss:.4f}, noise {random_loss:.4f}, attack {adv_loss:.4f}')
    assert adv_loss - clean_loss > 5 * abs(random_loss - clean_loss)


def test_attack_direction_is_the_gradient_of_rpn_plus_roi_terms():
    eps = 1.0
    model = build_faster_rcnn(dict(IDENTITY_DAT, train_on='adv',
                                   attack=dict(type='L2Attack', eps=eps, step_size=eps,
                                               random_start_prob=0.0)))
    dp = model.data_preprocessor
    batch = two_stage_batch()
    bind(model, DATIterationPlan(collect_stats=False))
    stock = dp(copy.deepcopy(batch), training=False)
    samples = stock['data_samples']
    valid = dp.valid_mask(stock['inputs'], samples)
    x_hat = dp.to_unit_rgb(stock['inputs'])
    adv = preprocess_for_training(model, batch, SEED)
    delta = dp.to_unit_rgb(adv['inputs']) - x_hat

    point = x_hat.clone().requires_grad_(True)
    losses = loss_terms(model, dp.from_unit_rgb(point, stock['inputs'], valid), samples, SEED)
    rpn, roi = summed(losses, RPN_TERMS), summed(losses, ROI_TERMS)
    (g_rpn, ) = torch.autograd.grad(rpn, point, retain_graph=True)
    (g_roi, ) = torch.autograd.grad(roi, point)
    g_full = g_rpn + g_roi
    per_sample = lambda t: t.flatten(1).norm(dim=1)  # noqa: E731
    assert torch.all(per_sample(g_roi) > 0.05 * per_sample(g_full))
    assert torch.all(per_sample(g_roi * ~valid) == 0)

    def l2_step(grad):  # one official L2 step of length eps from x̂, clamped to [0, 1]
        unit = grad / per_sample(grad).view(-1, 1, 1, 1)
        return (x_hat + eps * unit).clamp(0, 1) - x_hat

    from_full, from_rpn = per_sample(delta - l2_step(g_full)), per_sample(delta - l2_step(g_rpn))
    cosine = torch.nn.functional.cosine_similarity(g_full.flatten(1), g_rpn.flatten(1))
    print(f'|delta - step(full)| {from_full.tolist()}, |delta - step(rpn)| {from_rpn.tolist()}, '
          f'cos(full, rpn) {cosine.tolist()}')
    assert torch.all(from_full < 1e-3 * eps)
    assert torch.all(from_rpn > 0.05 * eps)


def test_logging_statistics_leaves_the_samplers_random_draws_alone():
    """The loss_adv statistics pass reuses the attack's random draws and consumes none of training's:
    a two-stage detector trains the same whatever the logging interval."""
    model = build_faster_rcnn(dict(IDENTITY_DAT, train_on='adv'))
    model.eval()  # same BatchNorm statistics in every pass
    bind(model)
    batch = two_stage_batch()
    after = {}
    for collect_stats in (False, True):
        model.data_preprocessor.dat_plan = DATIterationPlan(collect_stats=collect_stats)
        out = preprocess_for_training(model, batch, SEED)
        after[collect_stats] = torch.get_rng_state()
    assert torch.equal(after[False], after[True])
    stats = model.data_preprocessor.dat_report.stats
    # with the attack's draws, loss_adv is the loss of the adversarial batch under the same samples
    assert stats['loss_adv'] == pytest.approx(
        loss_at(model, out['inputs'], out['data_samples'], SEED), rel=1e-5)

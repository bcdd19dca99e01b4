"""The DAT step on an mmpretrain ResNet with Mixup/CutMix soft labels."""

import numpy as np
import pytest
import torch
from conftest import IDENTITY_DAT, bind
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from mmdat.models.data_preprocessors import DATIterationPlan

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True, num_classes=4)
MIX = dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)])


def build_classifier(dat, batch_augments=MIX):
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='mmdat.DATClsDataPreprocessor', dat=dat, batch_augments=batch_augments,
                               **NORM),
        backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=512,
                  loss=dict(type='CrossEntropyLoss', use_soft=True))))


def cls_batch(n=4, size=32):
    rng = np.random.RandomState(0)
    return dict(inputs=[torch.from_numpy(rng.randint(0, 255, (3, size, size), dtype=np.uint8))
                        for _ in range(n)],
                data_samples=[DataSample().set_gt_label(i % 4) for i in range(n)])


def seeded(fn, seed=3):
    np.random.seed(seed)
    torch.manual_seed(seed)
    return fn()


def test_mixup_soft_labels_are_preserved_and_attacked():
    model = build_classifier(dict(IDENTITY_DAT, train_on='clean+adv'))
    model.eval()
    dp = model.data_preprocessor
    stock = build_classifier(None).data_preprocessor
    expected = seeded(lambda: stock(cls_batch(), training=True))
    bind(model, DATIterationPlan(collect_stats=False))
    out = seeded(lambda: dp(cls_batch(), training=True))
    soft = [s.gt_score for s in expected['data_samples']]
    assert any(float(s.max()) < 1.0 for s in soft), 'the batch augment did not mix'
    for sample, target in zip(out['data_samples'], soft + soft):
        torch.testing.assert_close(sample.gt_score, target)
    torch.testing.assert_close(out['inputs'][:4], expected['inputs'])

    with torch.no_grad():
        soft_loss = model.parse_losses(model(expected['inputs'], expected['data_samples'], mode='loss'))[0]
        hard = [DataSample().set_gt_label(int(s.gt_score.argmax())) for s in expected['data_samples']]
        hard_loss = model.parse_losses(model(expected['inputs'], hard, mode='loss'))[0]
    attacked = dp.dat_report.stats['loss_xhat']
    assert attacked == pytest.approx(float(soft_loss), rel=1e-4)
    assert attacked != pytest.approx(float(hard_loss), rel=1e-3)


def test_cls_validation_equals_stock():
    model = build_classifier(IDENTITY_DAT)
    stock = build_classifier(None).data_preprocessor
    ours = model.data_preprocessor(cls_batch(), training=False)
    torch.testing.assert_close(ours['inputs'], stock(cls_batch(), training=False)['inputs'], rtol=0, atol=0)


def test_cls_attack_changes_images_and_keeps_grads_clean():
    model = build_classifier(dict(IDENTITY_DAT, train_on='adv',
                                  attack=dict(type='l2', eps=1.0, step_size=1.0)), batch_augments=None)
    bind(model, DATIterationPlan(collect_stats=True))
    stock = build_classifier(None, batch_augments=None).data_preprocessor(cls_batch(), training=True)
    out = model.data_preprocessor(cls_batch(), training=True)
    assert not torch.equal(out['inputs'], stock['inputs'])
    assert all(p.grad is None for p in model.parameters())
    assert model.data_preprocessor.dat_report.stats['loss_adv'] > model.data_preprocessor.dat_report.stats[
        'loss_xhat']

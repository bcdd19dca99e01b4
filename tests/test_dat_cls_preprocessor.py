"""The DAT step on an mmpretrain ResNet with Mixup/CutMix soft labels."""

import numpy as np
import pytest
import torch
from conftest import IDENTITY_DAT, bind, build_classifier, cls_batch
from mmpretrain.structures import DataSample

from mmdat.models.data_preprocessors import DATIterationPlan


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
                                  attack=dict(type='L2Attack', eps=1.0, step_size=1.0)), batch_augments=None)
    bind(model, DATIterationPlan(collect_stats=True))
    stock = build_classifier(None, batch_augments=None).data_preprocessor(cls_batch(), training=True)
    out = model.data_preprocessor(cls_batch(), training=True)
    assert not torch.equal(out['inputs'], stock['inputs'])
    assert all(p.grad is None for p in model.parameters())
    assert model.data_preprocessor.dat_report.stats['loss_adv'] > model.data_preprocessor.dat_report.stats[
        'loss_xhat']

"""The stock preprocessors' own scenarios (normalisation, BGR/RGB, padding, batch augments), run on
mmdat's subclasses: on validation batches, and on training batches the hook left inactive, the output
must equal the stock class's output exactly."""
import copy

import numpy as np
import pytest
import torch
from conftest import IDENTITY_DAT, det_batch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.structures import DataSample

from mmdat.models.data_preprocessors import DATIterationPlan

DET_SCENARIOS = {
    'no normalisation': dict(),
    'normalised rgb': dict(mean=[0, 0, 0], std=[255, 255, 255], bgr_to_rgb=True),
    'normalised bgr': dict(mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395]),
    'padded to 32 with a value': dict(mean=[127.5] * 3, std=[127.5] * 3, pad_size_divisor=32, pad_value=7),
    'batch fixed size pad': dict(mean=[127.5] * 3, std=[127.5] * 3, pad_size_divisor=32,
                                 batch_augments=[dict(type='BatchFixedSizePad', size=(128, 160))]),
    'batch sync random resize': dict(
        mean=[127.5] * 3, std=[127.5] * 3, pad_size_divisor=32,
        batch_augments=[dict(type='BatchSyncRandomResize', random_size_range=(64, 128), size_divisor=32,
                             interval=1)]),
}
CLS_SCENARIOS = {
    'no normalisation': dict(),
    'to rgb normalised': dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
    'padded': dict(mean=[127.5] * 3, std=[127.5] * 3, pad_size_divisor=16, pad_value=3),
    'mixup': dict(mean=[127.5] * 3, std=[127.5] * 3, num_classes=4,
                  batch_augments=dict(augments=[dict(type='Mixup', alpha=0.8)])),
    'mixup or cutmix with probabilities': dict(
        num_classes=4,
        batch_augments=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)],
                            probs=[0.3, 0.4])),
}


def same_outputs(ours, stock):
    assert torch.equal(ours['inputs'], stock['inputs'])
    for a, b in zip(ours['data_samples'], stock['data_samples']):
        assert a.metainfo.keys() == b.metainfo.keys()
        for key, value in a.metainfo.items():
            assert np.array_equal(np.asarray(value), np.asarray(b.metainfo[key])), key
        if 'gt_instances' in a:
            assert torch.equal(a.gt_instances.bboxes, b.gt_instances.bboxes)
        if 'gt_score' in a:
            assert torch.equal(a.gt_score, b.gt_score)


def seeded(fn):
    np.random.seed(0)
    torch.manual_seed(0)
    return fn()


@pytest.mark.parametrize('training', [False, True], ids=['val', 'train-inactive'])
@pytest.mark.parametrize('kwargs', DET_SCENARIOS.values(), ids=DET_SCENARIOS.keys())
def test_detection_scenarios_match_stock(kwargs, training):
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    MessageHub.get_current_instance().update_info('iter', 0)  # BatchSyncRandomResize reads it
    stock = MODELS.build(dict(type='DetDataPreprocessor', **copy.deepcopy(kwargs)))
    ours = MODELS.build(dict(type='mmdat.DATDataPreprocessor', dat=IDENTITY_DAT, **copy.deepcopy(kwargs)))
    assert isinstance(stock, DetDataPreprocessor)
    model = torch.nn.Module()  # an inactive plan never runs the model
    if training:
        ours.bind_dat(model)
        ours.dat_plan = DATIterationPlan(active=False)
    batch = det_batch([(3, 70, 90), (3, 96, 64)])
    same_outputs(seeded(lambda: ours(copy.deepcopy(batch), training)),
                 seeded(lambda: stock(copy.deepcopy(batch), training)))


def cls_batch():
    rng = np.random.RandomState(1)
    return dict(inputs=[torch.from_numpy(rng.randint(0, 255, (3, 30, 40), dtype=np.uint8)) for _ in range(4)],
                data_samples=[DataSample().set_gt_label(i % 4) for i in range(4)])


@pytest.mark.parametrize('training', [False, True], ids=['val', 'train-inactive'])
@pytest.mark.parametrize('kwargs', CLS_SCENARIOS.values(), ids=CLS_SCENARIOS.keys())
def test_classification_scenarios_match_stock(kwargs, training):
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    stock = MODELS.build(dict(type='ClsDataPreprocessor', **copy.deepcopy(kwargs)))
    ours = MODELS.build(dict(type='mmdat.DATClsDataPreprocessor', dat=IDENTITY_DAT, **copy.deepcopy(kwargs)))
    assert isinstance(stock, ClsDataPreprocessor)
    model = torch.nn.Module()  # an inactive plan never runs the model
    if training:
        ours.bind_dat(model)
        ours.dat_plan = DATIterationPlan(active=False)
    same_outputs(seeded(lambda: ours(cls_batch(), training)), seeded(lambda: stock(cls_batch(), training)))

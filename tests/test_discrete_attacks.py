"""The attacks that see the discretizer (code flip, latent PGD, pixel PGD through Q) and the discretizer's
code-space API they use, on real YOLOv3, EfficientDet-Lite0 and ResNet-18 models (random init) and a tiny
random VQGAN."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from conftest import (IDENTITY_DAT, REPO_ROOT, TINY_VQGAN, bind, build_classifier, build_det_model, cls_batch,
                      det_batch, lite0_dat_model)

from mmdat.models.attacks import CodeFlipAttack, build_attack, position_mask
from mmdat.models.data_preprocessors import DATIterationPlan
from mmdat.models.full_loss import full_loss
from mmdat.registry import MODELS

CODE_FLIP = dict(type='CodeFlipAttack', fraction=0.1, steps=2, neighbours=32)
LATENT_PGD = dict(type='LatentPGDAttack', eps=0.1, step_size=0.05, steps=3)
QUANTIZED_PGD = dict(type='QuantizedPGDAttack', eps=2.0, step_size=1.0, steps=3)
ATTACKS = dict(codeflip=CODE_FLIP, latent=LATENT_PGD, quantized=QUANTIZED_PGD)
#: the shipped discretizer (its real weights): the attacks are measured against it
SHIPPED_VQGAN = dict(type='mmdat.VQGANDiscretizer', preset='embedded-tiny-f4-4096',
                     checkpoint=osp.join(REPO_ROOT, 'checkpoints', 'vqgan_tiny_f4_embedded.pth'))


def tiny_vqgan():
    return MODELS.build(dict(TINY_VQGAN, type='mmdat.VQGANDiscretizer'))


@pytest.mark.filterwarnings('ignore:VQGANDiscretizer')
def test_code_space_api_equals_tamings_modules():
    quantizer = tiny_vqgan()
    images = torch.rand(2, 3, 37, 50, generator=torch.Generator().manual_seed(0))
    network = quantizer.network
    padded = F.pad(images * 2 - 1, (0, 2, 0, 3), mode='replicate')  # to multiples of f = 4
    with torch.no_grad():
        latents = network.quant_conv(network.encoder(padded))
        z_q, _, codes = network.encode(padded)
    ours = quantizer.encode_latents(images)
    torch.testing.assert_close(ours, latents, rtol=1e-6, atol=1e-6)
    assert torch.equal(quantizer.quantize_latents(latents), codes)
    assert torch.equal(quantizer.discretize_with_codes(images)[1], codes)
    embedded = network.quantize.embedding(codes).permute(0, 3, 1, 2)
    assert torch.equal(quantizer.embed_codes(codes), embedded)
    torch.testing.assert_close(embedded, z_q, rtol=0, atol=1e-6)  # taming's z + (e − z): last bits
    with torch.no_grad():
        expected = network.decode(embedded)[..., :37, :50].clamp(-1, 1).add(1).div(2)
    z = quantizer.embed_codes(codes).requires_grad_(True)
    decoded = quantizer.decode_latents(z, (37, 50))  # the differentiable path: taming's modules
    torch.testing.assert_close(decoded, expected, rtol=0, atol=1e-6)
    (grad, ) = torch.autograd.grad(decoded.sum(), z)
    assert grad.abs().sum() > 0 and all(p.grad is None for p in network.parameters())
    with torch.no_grad():  # the fast path: what discretize returns, which decodes taming's
        # z + (e − z) rather than the codebook rows: their last bits differ, and the fp32 decoder
        # carries that to about 5e-6
        torch.testing.assert_close(quantizer.decode_latents(quantizer.embed_codes(codes), (37, 50)),
                                   quantizer.discretize(images), rtol=0, atol=1e-5)


@pytest.mark.parametrize('attack', ['CodeFlipAttack', 'LatentPGDAttack'])
def test_code_space_attacks_refuse_a_discretizer_without_codebook(attack):
    with pytest.raises(ValueError, match='CodeFlipAttack and LatentPGDAttack need a codebook'):
        build_det_model(dict(IDENTITY_DAT, attack=dict(type=attack)))
    gumbel = dict(TINY_VQGAN, quantizer='gumbel')
    with pytest.raises(ValueError, match='need a codebook'):
        build_det_model(dict(discretizer=gumbel, attack=dict(type=attack)))


@pytest.mark.parametrize('attack', list(ATTACKS.values()), ids=list(ATTACKS))
def test_fused_refuses_the_attacks_with_their_own_passes(attack):
    with pytest.raises(ValueError, match="use train_on='separate'"):
        build_det_model(dict(discretizer=TINY_VQGAN, train_on='fused', attack=attack))


def test_unknown_attack_lists_the_new_ones():
    with pytest.raises(KeyError, match='CodeFlipAttack'):
        build_attack(dict(type='HotFlip'))


def det_setup(model, inputs):
    """(x in [0, 1] RGB, valid mask, loss_fn, samples) of a detector's stock training batch."""
    dp = model.data_preprocessor
    stock = dp(copy.deepcopy(inputs), training=False)
    x, valid = dp.to_unit_rgb(stock['inputs']), dp.valid_mask(stock['inputs'], stock['data_samples'])

    def loss_fn(images):
        return full_loss(model, dp.from_unit_rgb(images, stock['inputs'], valid), stock['data_samples'])

    return x, valid, loss_fn


@pytest.mark.filterwarnings('ignore:VQGANDiscretizer')
def test_code_flip_swaps_exactly_its_budget_of_valid_positions_and_never_padding(det_inputs):
    model = build_det_model(dict(discretizer=TINY_VQGAN, attack=CODE_FLIP, train_on='adv'))
    model.eval()
    x, valid, loss_fn = det_setup(model, det_inputs)
    attack = model.data_preprocessor.attack
    result = attack.run(x, loss_fn, valid, torch.Generator().manual_seed(0))
    positions = position_mask(valid, 4)
    assert (~positions).any()  # the batch has padded positions
    changed = (result.codes_adv != result.codes_x).flatten(1)
    expected = torch.round(positions.sum(dim=1).float() * 0.1).long()
    assert torch.equal(changed.sum(dim=1), expected) and expected.min() > 10
    assert not (changed & ~positions).any()
    assert torch.equal(result.x_adv[~valid.expand_as(x)], x[~valid.expand_as(x)])
    with torch.no_grad():
        assert float(loss_fn(result.x_adv)) > float(loss_fn(result.x_hat))
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.filterwarnings('ignore:VQGANDiscretizer')
def test_code_flip_neighbours_swaps_only_to_near_entries():
    attack = CodeFlipAttack(fraction=0.2, neighbours=3)
    quantizer = tiny_vqgan()
    attack.bind_discretizer(quantizer)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    valid = torch.ones(2, 1, 32, 32, dtype=torch.bool)
    result = attack.run(x, lambda images: (images * torch.linspace(-1, 1, 32)).sum(), valid,
                        torch.Generator().manual_seed(0))
    table = attack.neighbour_table(quantizer.codebook)
    distances = torch.cdist(quantizer.codebook, quantizer.codebook)
    assert (table != torch.arange(64).unsqueeze(1)).all()
    assert torch.allclose(distances.gather(1, table), distances.sort(dim=1).values[:, 1:4])
    changed = result.codes_adv != result.codes_x
    assert changed.sum() == 2 * round(64 * 0.2)
    old, new = result.codes_x[changed], result.codes_adv[changed]
    assert (table[old] == new.unsqueeze(1)).any(dim=1).all()


def random_control(model, x, valid, loss_fn, result):
    """The loss at as many random word swaps per image as ``result`` made, minus the loss at x̂."""
    control = CodeFlipAttack(selection='random')
    control.bind_discretizer(model.data_preprocessor.discretizer)
    counts = (result.codes_adv != result.codes_x).flatten(1).sum(dim=1)
    swapped = control.swap(x, loss_fn, valid, torch.Generator().manual_seed(0), counts)
    assert torch.equal((swapped.codes_adv != swapped.codes_x).flatten(1).sum(dim=1), counts)
    return swapped.x_adv


def models():
    yield 'yolov3', lambda dat: build_det_model(dat), det_batch([(3, 70, 90), (3, 96, 64)])
    yield 'efficientdet-lite0', lambda dat: lite0_dat_model(dat), det_batch([(3, 100, 128), (3, 128, 96)])
    yield 'resnet18', lambda dat: build_classifier(dat, batch_augments=None), cls_batch(4, 48)


@pytest.mark.parametrize('attack', list(ATTACKS), ids=list(ATTACKS))
@pytest.mark.parametrize('name, build, inputs', list(models()), ids=[m[0] for m in models()])
def test_attack_raises_the_full_loss_more_than_as_many_random_word_swaps(attack, name, build, inputs):
    """With the shipped discretizer; the pixel PGD through Q starts at x (``perturb_at='x'``)."""
    perturb_at = 'x' if attack == 'quantized' else 'x_hat'
    model = build(dict(discretizer=SHIPPED_VQGAN, attack=ATTACKS[attack], train_on='adv',
                       perturb_at=perturb_at))
    model.eval()
    x, valid, loss_fn = det_setup(model, inputs)
    attack_ = model.data_preprocessor.attack
    torch.manual_seed(0)
    result = attack_.run(x, loss_fn, valid, torch.Generator().manual_seed(0))
    if result.x_adv is None:  # a pixel attack from x: x_adv = Q(x + δ)
        x_adv, codes_adv = model.data_preprocessor.discretizer.discretize_with_codes(x + result.delta)
        x_hat, codes_x = model.data_preprocessor.discretizer.discretize_with_codes(x)
        x_adv, x_hat = torch.where(valid, x_adv, x), torch.where(valid, x_hat, x)
        result.x_adv, result.codes_adv, result.x_hat, result.codes_x = x_adv, codes_adv, x_hat, codes_x
    assert (result.codes_adv != result.codes_x).any()
    random_adv = random_control(model, x, valid, loss_fn, result)
    with torch.no_grad():
        start, adv, random = (float(loss_fn(images)) for images in (result.x_hat, result.x_adv, random_adv))
    assert adv - start > max(0.0, random - start), (name, start, adv, random)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.filterwarnings('ignore:VQGANDiscretizer')
@pytest.mark.parametrize('train_on', ['adv', 'clean+adv', 'separate'])
@pytest.mark.parametrize('attack', list(ATTACKS), ids=list(ATTACKS))
def test_each_mode_keeps_padding_and_logs_the_words_changed(det_inputs, attack, train_on):
    model = build_det_model(dict(discretizer=TINY_VQGAN, attack=ATTACKS[attack], train_on=train_on,
                                 bn_mode='freeze'))
    dp = model.data_preprocessor
    stock = dp(copy.deepcopy(det_inputs), training=False)['inputs']
    bind(model, DATIterationPlan(collect_stats=True))
    out = dp(copy.deepcopy(det_inputs), training=True)
    adv = out['inputs'][-stock.shape[0]:]
    valid = dp.valid_mask(stock, out['data_samples'][:stock.shape[0]]).expand_as(stock)
    assert torch.equal(adv[~valid], stock[~valid])
    assert not torch.equal(adv[valid], stock[valid])
    stats = dp.dat_report.stats
    assert 0 < stats['code_flip'] < 1 and stats['delta_norm'] > 0
    if attack == 'codeflip':  # the words of x against those of x_adv: its budget, of all positions
        assert stats['code_flip'] <= 0.1 + 1e-6
    grads = [p.grad for p in model.parameters()]
    assert all(g is None for g in grads) if train_on != 'separate' else any(g is not None for g in grads)


@pytest.mark.filterwarnings('ignore:VQGANDiscretizer')
@pytest.mark.parametrize('attack', ['codeflip', 'latent'])
def test_zero_budget_trains_on_q_of_x(det_inputs, attack):
    budget = dict(fraction=0.0) if attack == 'codeflip' else dict(eps=0.0)
    model = build_det_model(dict(discretizer=TINY_VQGAN, attack=dict(ATTACKS[attack], **budget),
                                 train_on='adv'))
    dp = model.data_preprocessor
    stock = dp(copy.deepcopy(det_inputs), training=False)
    bind(model)
    out = dp(copy.deepcopy(det_inputs), training=True)
    valid = dp.valid_mask(stock['inputs'], stock['data_samples'])
    x_hat = dp.discretizer.discretize(dp.to_unit_rgb(stock['inputs']))
    expected = dp.from_unit_rgb(x_hat, stock['inputs'], valid)
    torch.testing.assert_close(out['inputs'], expected, rtol=0, atol=1e-4)

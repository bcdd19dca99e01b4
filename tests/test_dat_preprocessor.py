"""Behaviour of the DAT step on a real YOLOv3 and a real mmpretrain classifier (random init)."""
import copy

import pytest
import torch
from conftest import IDENTITY_DAT, TINY_VQGAN, bind, build_det_model, det_batch, same_norm_noise
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.registry import init_default_scope

from mmdat.models.data_preprocessors import DATIterationPlan


def stock_twin(model) -> DetDataPreprocessor:
    dp = model.data_preprocessor
    return DetDataPreprocessor(mean=dp.mean.flatten().tolist(), std=dp.std.flatten().tolist(),
                               bgr_to_rgb=True, pad_size_divisor=32)


def test_validation_and_inactive_batches_equal_stock(det_inputs):
    model = build_det_model(IDENTITY_DAT)
    stock = stock_twin(model)
    expected = stock(copy.deepcopy(det_inputs), training=False)['inputs']
    assert torch.equal(model.data_preprocessor(copy.deepcopy(det_inputs), training=False)['inputs'],
                       expected)
    bind(model, DATIterationPlan(active=False))
    out = model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    assert torch.equal(out['inputs'], stock(copy.deepcopy(det_inputs), training=True)['inputs'])


def test_training_without_hook_says_what_to_add(det_inputs):
    model = build_det_model(IDENTITY_DAT)
    with pytest.raises(RuntimeError, match=r"custom_hooks = \[dict\(type='mmdat.DATHook'\)\]"):
        model.data_preprocessor(det_inputs, training=True)


def test_second_training_call_in_one_iteration_says_the_plan_was_used(det_inputs):
    model = build_det_model(IDENTITY_DAT)
    bind(model)
    model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    with pytest.raises(RuntimeError, match='second training batch within one iteration'):
        model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    stock = model.data_preprocessor(copy.deepcopy(det_inputs), training=False)  # still allowed
    assert stock['inputs'].shape[0] == 2


def test_unknown_options_are_refused():
    with pytest.raises(ValueError, match='train_on'):
        build_det_model(dict(IDENTITY_DAT, train_on='both'))
    with pytest.raises(KeyError, match='eps'):
        build_det_model(dict(IDENTITY_DAT, eps=0.1))
    with pytest.raises(ValueError, match='single attack step'):
        build_det_model(dict(IDENTITY_DAT, train_on='fused', attack=dict(type='L2Attack', steps=2)))


@pytest.mark.parametrize('train_on', ['adv', 'clean+adv', 'separate', 'fused'])
def test_padding_is_restored_bit_exactly(det_inputs, train_on):
    model = build_det_model(dict(IDENTITY_DAT, train_on=train_on,
                                 attack=dict(type='L2Attack', eps=5.0, step_size=5.0)))
    stock = stock_twin(model)(copy.deepcopy(det_inputs), training=True)['inputs']
    bind(model)
    out = model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    adv = out['inputs'][-stock.shape[0]:]
    for i, sample in enumerate(out['data_samples'][:stock.shape[0]]):
        h, w = sample.img_shape
        padded = torch.ones_like(stock[i], dtype=torch.bool)
        padded[:, :h, :w] = False
        assert padded.any()
        assert torch.equal(adv[i][padded], stock[i][padded])
        assert not torch.equal(adv[i][:, :h, :w], stock[i][:, :h, :w])
    if train_on == 'clean+adv':
        assert torch.equal(out['inputs'][:stock.shape[0]], stock)
        assert len(out['data_samples']) == 2 * stock.shape[0]


@pytest.mark.parametrize('train_on', ['adv', 'clean+adv'])
def test_attack_leaves_parameter_grads_untouched(det_inputs, train_on):
    model = build_det_model(dict(IDENTITY_DAT, train_on=train_on))
    bind(model)
    model.data_preprocessor(det_inputs, training=True)
    assert all(p.grad is None for p in model.parameters())


def test_attack_loss_is_the_full_yolov3_loss(det_inputs):
    model = build_det_model(IDENTITY_DAT)
    model.eval()  # same BN statistics for both evaluations
    bind(model, DATIterationPlan(collect_stats=False))
    clean = model.data_preprocessor(copy.deepcopy(det_inputs), training=False)
    losses = model(clean['inputs'], clean['data_samples'], mode='loss')
    assert {'loss_cls', 'loss_conf', 'loss_xy', 'loss_wh'} <= set(losses)
    total = sum(sum(v) if isinstance(v, list) else v for k, v in losses.items() if 'loss' in k)
    model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    assert model.data_preprocessor.dat_report.stats['loss_xhat'] == pytest.approx(float(total), rel=1e-4)


def test_attack_raises_the_loss_more_than_random_noise_of_the_same_norm(det_inputs):
    eps = 4.0
    model = build_det_model(dict(IDENTITY_DAT, train_on='adv',
                                 attack=dict(type='L2Attack', eps=eps, step_size=eps, random_start_prob=0.0)))
    model.eval()
    dp = model.data_preprocessor
    bind(model, DATIterationPlan(collect_stats=True))
    stock = dp(copy.deepcopy(det_inputs), training=False)
    adv = dp(copy.deepcopy(det_inputs), training=True)
    stats = dp.dat_report.stats
    assert 0.9 * eps < stats['delta_norm'] <= eps * 1.0001  # on the ball, minus what [0, 1] clamps

    noisy = same_norm_noise(dp, stock['inputs'], stock['data_samples'], eps)

    def loss(inputs):
        with torch.no_grad():
            return float(model.parse_losses(model(inputs, stock['data_samples'], mode='loss'))[0])

    clean_loss, random_loss, adv_loss = loss(stock['inputs']), loss(noisy), loss(adv['inputs'])
    assert adv_loss - clean_loss > 5 * abs(random_loss - clean_loss)
    assert stats['loss_adv'] == pytest.approx(adv_loss, rel=1e-4)


def test_vqgan_discretizer_changes_visual_words_and_reports_them(det_inputs):
    model = build_det_model(dict(discretizer=TINY_VQGAN,
                                 attack=dict(type='L2Attack', eps=20.0, step_size=20.0)))
    bind(model, DATIterationPlan(collect_stats=True, num_visuals=2))
    model.data_preprocessor(det_inputs, training=True)
    report = model.data_preprocessor.dat_report
    assert 0.0 < report.stats['code_flip'] <= 1.0
    assert report.stats['nonfinite'] == 0
    assert report.visuals['x'].shape[0] == 2


def test_non_finite_gradients_fall_back_to_the_discretized_image(det_inputs):
    model = build_det_model(dict(IDENTITY_DAT, train_on='adv'))
    head = model.bbox_head.convs_pred[0]
    with torch.no_grad():
        head.weight[0, 0, 0, 0] = float('nan')
    bind(model)
    stock = model.data_preprocessor(copy.deepcopy(det_inputs), training=False)
    out = model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    assert model.data_preprocessor.dat_report.stats['nonfinite'] == 2
    # both samples train on x̂, which the identity discretizer makes the stock input
    torch.testing.assert_close(out['inputs'], stock['inputs'], atol=1e-5, rtol=0)


def test_fused_mode_has_no_x_hat_and_its_grid_leaves_the_q_panels_out(det_inputs):
    from mmdat.visualization.dat_grid import make_dat_grid
    grids = {}
    for train_on in ('adv', 'fused'):
        model = build_det_model(dict(IDENTITY_DAT, train_on=train_on))
        bind(model, DATIterationPlan(collect_stats=False, num_visuals=1))
        model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
        visuals = model.data_preprocessor.dat_report.visuals
        assert (visuals['x_hat'] is None) == (train_on == 'fused')
        grids[train_on] = make_dat_grid(visuals)
    panel_width = det_inputs['inputs'][0].shape[-1]
    assert grids['adv'].shape[1] - grids['fused'].shape[1] >= 2 * panel_width


def test_fused_gradient_is_clean_plus_adversarial_gradient(det_inputs):
    dat = dict(IDENTITY_DAT, train_on='fused', bn_mode='train',
               attack=dict(type='L2Attack', eps=2.0, step_size=2.0, random_start_prob=0.0))
    model = build_det_model(dat)
    model.eval()  # BN statistics fixed, so the three passes see the same network
    wrapper = bind(model)
    with wrapper.optim_context(model):
        data = model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
        adv_loss = model.parse_losses(model(**data, mode='loss'))[0]
    wrapper.backward(adv_loss)
    fused = [p.grad for p in model.parameters()]

    twin = build_det_model(dict(IDENTITY_DAT))
    twin.load_state_dict(model.state_dict())
    twin.eval()
    stock = twin.data_preprocessor(copy.deepcopy(det_inputs), training=False)
    clean_loss = twin.parse_losses(twin(stock['inputs'], stock['data_samples'], mode='loss'))[0]
    clean = torch.autograd.grad(clean_loss, list(twin.parameters()), allow_unused=True)
    adv_loss_twin = twin.parse_losses(twin(data['inputs'], stock['data_samples'], mode='loss'))[0]
    adv = torch.autograd.grad(adv_loss_twin, list(twin.parameters()), allow_unused=True)
    checked = 0
    for got, c, a in zip(fused, clean, adv):
        if c is None and a is None:
            assert got is None or not got.any()
            continue
        expected = (c if c is not None else 0) + (a if a is not None else 0)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
        checked += 1
    assert checked > 100


def test_separate_mode_accumulates_the_clean_gradient_before_the_update(det_inputs):
    model = build_det_model(dict(IDENTITY_DAT, train_on='separate'))
    model.eval()
    bind(model)
    model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    grads = [p.grad for p in model.bbox_head.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    assert 'loss_clean' in model.data_preprocessor.dat_report.stats


@pytest.mark.parametrize('bn_mode', ['freeze', 'eval'])
def test_bn_modes_keep_running_statistics(det_inputs, bn_mode):
    model = build_det_model(dict(IDENTITY_DAT, train_on='adv', bn_mode=bn_mode))
    bind(model)
    before = {k: v.clone() for k, v in model.state_dict().items() if 'running' in k or 'num_batches' in k}
    model.data_preprocessor(det_inputs, training=True)
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())
    assert model.training


def test_bn_mode_train_updates_running_statistics_like_the_official_code(det_inputs):
    model = build_det_model(dict(IDENTITY_DAT, train_on='adv', bn_mode='train'))
    bind(model)
    key = next(k for k in model.state_dict() if k.endswith('num_batches_tracked'))
    before = model.state_dict()[key].clone()
    model.data_preprocessor(det_inputs, training=True)
    assert model.state_dict()[key] == before + 1


def test_discretizer_stays_out_of_state_dict_and_deepcopy():
    model = build_det_model(dict(discretizer=TINY_VQGAN))
    bind(model)
    model.data_preprocessor(det_batch([(3, 64, 64)]), training=True)
    assert not any('discretizer' in k for k in model.state_dict())
    twin = copy.deepcopy(model)
    assert twin.data_preprocessor.discretizer is model.data_preprocessor.discretizer


def test_rgb_and_bgr_models_see_the_same_discretized_colours():
    init_default_scope('mmdet')
    batch = det_batch([(3, 64, 64)])
    x_rgb = build_det_model(IDENTITY_DAT).data_preprocessor
    x_bgr = build_det_model(IDENTITY_DAT, bgr_to_rgb=False).data_preprocessor
    unit_rgb = x_rgb.to_unit_rgb(x_rgb(copy.deepcopy(batch), training=False)['inputs'])
    unit_bgr = x_bgr.to_unit_rgb(x_bgr(copy.deepcopy(batch), training=False)['inputs'])
    torch.testing.assert_close(unit_rgb, unit_bgr)
    # data loaded as BGR uint8: channel 0 is blue, so RGB channel 2 equals it
    torch.testing.assert_close(unit_rgb[0, 2], batch['inputs'][0][0].float() / 255, atol=1e-5, rtol=0)


def test_train_step_compiles_with_a_graph_break_around_the_attack(det_inputs):
    model = build_det_model(dict(IDENTITY_DAT, train_on='clean+adv'))
    wrapper = bind(model, lr=0.0)
    compiled = torch.compile(model.train_step, backend='eager')
    log_vars = compiled(copy.deepcopy(det_inputs), wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert model.data_preprocessor.dat_report.stats['delta_norm'] > 0


def test_separate_mode_respects_gradient_accumulation(det_inputs):
    from mmengine.optim import OptimWrapper
    model = build_det_model(dict(IDENTITY_DAT, train_on='separate'))
    model.eval()
    bind(model)
    model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    single = [p.grad.clone() for p in model.bbox_head.parameters()]
    model.zero_grad(set_to_none=True)
    accumulating = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0), accumulative_counts=2)
    accumulating.initialize_count_status(model, 0, 10)
    model.data_preprocessor.bind_dat(model, accumulating)
    model.data_preprocessor.dat_plan = DATIterationPlan(collect_stats=False)
    model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    for full, half in zip(single, (p.grad for p in model.bbox_head.parameters())):
        torch.testing.assert_close(half, full / 2)


def test_batch_fixed_size_padding_is_restored_bit_exactly(det_inputs):
    pad = [dict(type='BatchFixedSizePad', size=(160, 192))]
    model = build_det_model(dict(IDENTITY_DAT, train_on='adv',
                                 attack=dict(type='L2Attack', eps=5.0, step_size=5.0)),
                            batch_augments=pad)
    stock = DetDataPreprocessor(mean=model.data_preprocessor.mean.flatten().tolist(),
                                std=model.data_preprocessor.std.flatten().tolist(), bgr_to_rgb=True,
                                pad_size_divisor=32, batch_augments=pad)(copy.deepcopy(det_inputs), True)
    bind(model)
    out = model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
    assert out['inputs'].shape[-2:] == (160, 192)
    for i, sample in enumerate(out['data_samples']):
        h, w = sample.img_shape
        assert torch.equal(out['inputs'][i, :, h:], stock['inputs'][i, :, h:])
        assert torch.equal(out['inputs'][i, :, :, w:], stock['inputs'][i, :, :, w:])
        assert not torch.equal(out['inputs'][i, :, :h, :w], stock['inputs'][i, :, :h, :w])


@pytest.mark.parametrize('train_on', ['fused', 'adv'])
def test_a_zero_strength_attack_skips_the_input_gradient_and_changes_nothing(
        det_inputs, train_on, monkeypatch):
    from mmdat.models.attacks import L2Attack, build_attack
    attack = dict(type='L2Attack', eps=0.0, step_size=0.0, random_start_prob=0.8)
    assert build_attack(attack).is_null() and build_attack(dict(type='L2Attack')).is_null(eps_scale=0.0)
    center = torch.rand(2, 3, 8, 8)
    # no autograd graph behind this loss: a run that took the input gradient would raise
    result = build_attack(attack).run(center, lambda images: images.sum().detach(),
                                      torch.ones(2, 1, 8, 8, dtype=torch.bool), torch.Generator())
    assert not result.delta.any() and result.start_loss == center.sum()

    outcomes = []
    for skip in (True, False):
        if not skip:  # the same step taking ∇ₓL as for any eps
            monkeypatch.setattr(L2Attack, 'is_null', lambda self, eps_scale=1.0: False)
        model = build_det_model(dict(IDENTITY_DAT, train_on=train_on, attack=attack))
        bind(model)
        data = model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
        outcomes.append((data['inputs'], [p.grad for p in model.parameters()],
                         {k: v for k, v in model.state_dict().items() if 'running' in k}))
    (skipped, skipped_grads, skipped_bn), (taken, taken_grads, taken_bn) = outcomes
    torch.testing.assert_close(skipped, taken, rtol=0, atol=0)
    for got, expected in zip(skipped_grads, taken_grads):
        assert (got is None) == (expected is None)
        if got is not None:
            torch.testing.assert_close(got, expected)
    assert any(g is not None for g in skipped_grads) == (train_on == 'fused')
    for key in taken_bn:
        torch.testing.assert_close(skipped_bn[key], taken_bn[key], rtol=0, atol=0)


def test_adv_distance_is_delta_through_the_identity_and_q_error_through_a_vqgan(det_inputs):
    distances = {}
    for name, discretizer in (('identity', IDENTITY_DAT['discretizer']), ('vqgan', TINY_VQGAN)):
        model = build_det_model(dict(IDENTITY_DAT, discretizer=discretizer, train_on='adv'))
        bind(model)
        model.data_preprocessor(copy.deepcopy(det_inputs), training=True)
        distances[name] = model.data_preprocessor.dat_report.stats
    identity = distances['identity']
    assert abs(identity['adv_distance'] - identity['delta_norm']) < 1e-5
    # a random-init VQGAN reconstructs badly: x_adv is far from x, much farther than δ
    assert distances['vqgan']['adv_distance'] > 10 * distances['vqgan']['delta_norm']

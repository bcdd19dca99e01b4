"""VQGAN training with mmengine: losses, codebook guard, optimizer constructor, metric, export."""
import math

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper, OptimWrapperDict
from PIL import Image

from mmdat.datasets.image_folder import ImageFolderDataset
from mmdat.engine.optimizers import MultiOptimWrapperConstructor
from mmdat.evaluation.metrics import ReconstructionMetric, psnr
from mmdat.models.discretizers import TamingVQGAN, VQGANDiscretizer
from mmdat.models.vqgan_training import (CodebookGuard, LiteFeatureLoss, LPIPSLoss, PatchDiscriminator,
                                         VQGANTrainer, adaptive_adversarial_weight, widen_state_dict)
from mmdat.models.vqgan_training.export import generator_kwargs_from_checkpoint, generator_state_dict

TINY_GENERATOR = dict(
    ddconfig=dict(double_z=False, z_channels=4, resolution=32, in_channels=3, out_ch=3, ch=32,
                  ch_mult=[1, 1, 1], num_res_blocks=1, attn_resolutions=[], dropout=0.0),
    n_embed=64, embed_dim=4)
TINY_DISCRIMINATOR = dict(type='mmdat.PatchDiscriminator', base_channels=8, num_layers=2)


def _trainer(**kwargs) -> VQGANTrainer:
    torch.manual_seed(0)
    kwargs.setdefault('discriminator', TINY_DISCRIMINATOR)
    return VQGANTrainer(generator=TINY_GENERATOR, **kwargs)


def _optim_wrapper(trainer: VQGANTrainer, lr: float = 2e-3) -> OptimWrapperDict:
    entry = dict(optimizer=dict(type='Adam', lr=lr, betas=(0.5, 0.9)))
    names = ['generator'] + (['discriminator'] if trainer.discriminator is not None else [])
    return MultiOptimWrapperConstructor({name: dict(entry) for name in names})(trainer)


def _smooth_images(num_images: int = 4, size: int = 32, seed: int = 0) -> torch.Tensor:
    """uint8 RGB images (N, 3, H, W): smooth colour gradients plus blobs, easy to reconstruct."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(num_images, 3, 4, 4, generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode='bicubic',
                                             align_corners=False)
    return (smooth.clamp(0, 1) * 255).round().to(torch.uint8)


def _batch(images: torch.Tensor) -> dict:
    return dict(inputs=list(images))


@pytest.fixture(autouse=True)
def _iteration_zero():
    MessageHub.get_current_instance().update_info('iter', 0)
    yield
    MessageHub.get_current_instance().update_info('iter', 0)


def _train(num_iters: int, **trainer_kwargs) -> list[dict]:
    trainer = _trainer(discriminator=None, **trainer_kwargs)
    optim_wrapper = _optim_wrapper(trainer)
    batch = _batch(_smooth_images())
    return [trainer.train_step(batch, optim_wrapper) for _ in range(num_iters)]


def test_training_lowers_reconstruction_loss_and_guard_keeps_codes_in_use():
    guarded = _train(20, kmeans_iters=10, dead_code_iters=4)
    unguarded = _train(20, kmeans_iters=-1, dead_code_iters=0)
    first_l1 = float(guarded[0]['loss_l1'])
    last_l1 = float(np.mean([float(log['loss_l1']) for log in guarded[-3:]]))
    assert last_l1 < 0.6 * first_l1
    assert sum(float(log['restarted_codes']) for log in guarded) > 0
    # 4 images of 8x8 codes = 256 code slots for 64 codes.
    assert float(guarded[-1]['codebook_usage']) >= 0.75
    # Without the guard, taming's uniform start leaves most codes unused (perplexity ~12 here).
    assert float(guarded[-1]['perplexity']) > 2 * float(unguarded[-1]['perplexity'])
    assert float(guarded[-1]['perplexity']) <= 64.0


def test_codebook_is_initialised_from_first_batch_latents():
    trainer = _trainer(discriminator=None)
    uniform_init = trainer.vqgan.quantize.embedding.weight.detach().clone()
    images = _batch(_smooth_images())
    trainer.train_step(images, _optim_wrapper(trainer, lr=0.0))
    codebook = trainer.vqgan.quantize.embedding.weight.detach()
    assert bool(trainer.codebook_guard.initialized)
    assert not torch.allclose(codebook, uniform_init)
    latents = trainer._latest_latents
    # Every centroid lies inside the latents' range, far outside taming's +-1/K uniform start.
    assert codebook.abs().max() > 10.0 / 64
    assert (codebook.min(0).values >= latents.min(0).values - 1e-5).all()
    assert (codebook.max(0).values <= latents.max(0).values + 1e-5).all()


def test_dead_codes_are_reseeded_from_latents():
    guard = CodebookGuard(num_codes=8, kmeans_iters=-1, dead_code_iters=3)
    codebook = torch.zeros(8, 2)
    latents = torch.arange(20, dtype=torch.float32).reshape(10, 2) + 100
    only_code_zero = torch.zeros(5, dtype=torch.long)
    restarted = [
        guard.update(codebook, only_code_zero, latents)['restarted_codes'] for _ in range(3)
    ]
    assert restarted == [0.0, 0.0, 7.0]
    latent_rows = {tuple(row.tolist()) for row in latents}
    assert codebook[0].tolist() == [0.0, 0.0]
    assert all(tuple(row.tolist()) in latent_rows for row in codebook[1:])
    assert len({tuple(row.tolist()) for row in codebook[1:]}) == 7
    assert guard.idle_iters.tolist() == [0] * 8


def test_adaptive_weight_is_gradient_norm_ratio():
    weight = torch.randn(3, 4, requires_grad=True)
    rec_direction, adv_direction = torch.randn(3, 4), torch.randn(3, 4)
    rec_loss, adv_loss = (weight * rec_direction).sum(), (weight * adv_direction).sum()
    value = adaptive_adversarial_weight(rec_loss, adv_loss, weight)
    expected = rec_direction.norm() / (adv_direction.norm() + 1e-4)
    assert torch.isclose(value, expected)
    zero_adv = (weight * 0).sum()
    assert adaptive_adversarial_weight(rec_loss, zero_adv, weight, max_weight=50.0) == 50.0


def test_discriminator_trains_only_from_disc_start():
    trainer = _trainer(disc_start=2)
    optim_wrapper = _optim_wrapper(trainer)
    batch = _batch(_smooth_images())
    before = [param.detach().clone() for param in trainer.discriminator.parameters()]
    log = trainer.train_step(batch, optim_wrapper)
    assert 'loss_disc' not in log and 'adaptive_weight' not in log
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.discriminator.parameters()))

    MessageHub.get_current_instance().update_info('iter', 2)
    log = trainer.train_step(batch, optim_wrapper)
    assert math.isfinite(float(log['adaptive_weight'])) and float(log['adaptive_weight']) > 0
    assert math.isfinite(float(log['loss_disc']))
    assert not all(torch.equal(a, b) for a, b in zip(before, trainer.discriminator.parameters()))
    # The generator step leaves no gradients behind on the discriminator.
    assert all(param.grad is None or not param.grad.any()
               for param in trainer.discriminator.parameters())


def test_train_step_rejects_single_optim_wrapper():
    trainer = _trainer()
    wrapper = OptimWrapper(torch.optim.Adam(trainer.parameters()))
    with pytest.raises(TypeError, match='OptimWrapperDict with keys'):
        trainer.train_step(_batch(_smooth_images()), wrapper)


def test_perceptual_weight_requires_vgg16_weights():
    with pytest.raises(ValueError, match='vgg16_checkpoint'):
        _trainer(perceptual_weight=1.0)


def test_lpips_is_zero_for_equal_images_and_stays_out_of_state_dict(tmp_path):
    generator = torch.Generator().manual_seed(0)
    trunk, heads, index, in_channels = {}, {}, 0, 3
    for stage, widths in enumerate(((64, 64), (128, 128), (256, 256, 256), (512, 512, 512),
                                    (512, 512, 512))):
        index += 1 if stage else 0
        for width in widths:
            trunk[f'features.{index}.weight'] = torch.randn(
                width, in_channels, 3, 3, generator=generator) * (2 / (9 * in_channels))**0.5
            trunk[f'features.{index}.bias'] = torch.zeros(width)
            index, in_channels = index + 2, width
        heads[f'lin{stage}.model.1.weight'] = torch.rand(1, in_channels, 1, 1, generator=generator)
    torch.save(trunk, tmp_path / 'vgg16.pth')
    torch.save(heads, tmp_path / 'heads.pth')
    lpips = LPIPSLoss(str(tmp_path / 'vgg16.pth'), str(tmp_path / 'heads.pth'))
    images = torch.rand(2, 3, 32, 32, generator=generator) * 2 - 1
    noisy = (images + 0.3 * torch.randn(2, 3, 32, 32, generator=generator)).clamp(-1, 1)
    assert torch.allclose(lpips(images, images), torch.zeros(2))
    assert (lpips(images, noisy) > 0).all()
    assert len(lpips.state_dict()) == 0 and len(list(lpips.parameters())) == 0
    del trunk['features.28.bias']
    torch.save(trunk, tmp_path / 'broken.pth')
    with pytest.raises(KeyError, match='features.28.bias'):
        LPIPSLoss(str(tmp_path / 'broken.pth'), str(tmp_path / 'heads.pth'))


def test_exported_state_dict_loads_into_discretizer_strictly(tmp_path):
    trainer = _trainer()
    trainer.train_step(_batch(_smooth_images()), _optim_wrapper(trainer))
    exported = generator_state_dict({'state_dict': trainer.state_dict()})
    assert set(exported) == set(TamingVQGAN(**TINY_GENERATOR).state_dict())
    assert all(value.dtype == torch.float32 for value in exported.values())
    path = tmp_path / 'tiny.pth'
    torch.save(exported, path)
    discretizer = VQGANDiscretizer(checkpoint=str(path), **TINY_GENERATOR)
    images01 = _smooth_images().float() / 255
    trainer.eval()
    with torch.no_grad():
        _, _, expected_codes = trainer.generator(images01 * 2 - 1)
    assert torch.equal(discretizer.codes(images01), expected_codes)


def test_psnr_and_codebook_statistics_of_known_predictions():
    reference = torch.zeros(3, 4, 4)
    assert float(psnr(reference, reference + 0.1)) == pytest.approx(20.0)
    metric = ReconstructionMetric(codebook_size=4)
    metric.process(None, [
        dict(input=reference, reconstruction=reference + 0.1, indices=torch.tensor([[0, 1]])),
        dict(input=reference, reconstruction=reference + 0.01, indices=torch.tensor([[0, 1]])),
    ])
    result = metric.compute_metrics(metric.results)
    assert result['psnr'] == pytest.approx(30.0)
    assert result['color_shift'] == pytest.approx((25.5 + 2.55) / 2)  # mean channel shift, 0-255
    assert result['codebook_usage'] == pytest.approx(0.5)
    assert result['perplexity'] == pytest.approx(2.0)
    with pytest.raises(ValueError, match='outside the codebook'):
        metric.process(None, [dict(input=reference, reconstruction=reference,
                                   indices=torch.tensor([4]))])


def test_constructor_builds_one_optimizer_per_submodule():
    trainer = _trainer()
    wrappers = _optim_wrapper(trainer)
    for name, module in (('generator', trainer.generator),
                         ('discriminator', trainer.discriminator)):
        param_groups = wrappers[name].optimizer.param_groups
        optimized = {id(param) for group in param_groups for param in group['params']}
        assert optimized == {id(p) for p in module.parameters()}
    with pytest.raises(AttributeError, match="no submodule 'critic'"):
        MultiOptimWrapperConstructor(dict(critic=dict(optimizer=dict(type='SGD', lr=0.1))))(trainer)


def test_patch_discriminator_scores_patches():
    logits = PatchDiscriminator(base_channels=8, num_layers=2)(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 1, 6, 6)


def _write_images(folder, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(_smooth_images(count, size=40, seed=1)):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f'{index:03d}.png')


def test_image_folder_dataset_lists_images_recursively(tmp_path):
    _write_images(tmp_path / 'images' / 'nested', 3)
    (tmp_path / 'images' / 'notes.txt').write_text('not an image')
    dataset = ImageFolderDataset(data_root=str(tmp_path), data_prefix=dict(img_path='images'))
    assert len(dataset) == 3
    assert dataset[0]['img_path'].endswith('nested/000.png')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no image files'):
        ImageFolderDataset(data_root=str(tmp_path), data_prefix=dict(img_path='empty'))


def test_runner_trains_validates_and_checkpoint_exports(tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmdat.utils.checkpoint import load_checkpoint_file

    _write_images(tmp_path / 'images', 4)
    dataset = dict(type='mmdat.ImageFolderDataset', data_root=str(tmp_path),
                   data_prefix=dict(img_path='images'))
    train_pipeline = [dict(type='mmpretrain.LoadImageFromFile'),
                      dict(type='mmpretrain.RandomCrop', crop_size=32),
                      dict(type='mmpretrain.PackInputs')]
    val_pipeline = [dict(type='mmpretrain.LoadImageFromFile'),
                    dict(type='mmpretrain.CenterCrop', crop_size=32),
                    dict(type='mmpretrain.PackInputs')]
    runner = Runner.from_cfg(Config(dict(
        model=dict(type='mmdat.VQGANTrainer', generator=TINY_GENERATOR,
                   discriminator=TINY_DISCRIMINATOR, disc_start=2),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(batch_size=4, num_workers=0,
                              sampler=dict(type='InfiniteSampler', shuffle=True),
                              dataset=dict(dataset, pipeline=train_pipeline)),
        val_dataloader=dict(batch_size=2, num_workers=0,
                            sampler=dict(type='DefaultSampler', shuffle=False),
                            dataset=dict(dataset, pipeline=val_pipeline)),
        val_evaluator=dict(type='mmdat.ReconstructionMetric', codebook_size=64),
        optim_wrapper=dict(
            constructor='mmdat.MultiOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=1e-3, betas=(0.5, 0.9))),
            discriminator=dict(optimizer=dict(type='Adam', lr=1e-3, betas=(0.5, 0.9)))),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=3, val_interval=3),
        val_cfg=dict(type='ValLoop'),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False)),
        default_scope='mmengine',
        custom_imports=dict(imports=['mmdat'], allow_failed_imports=False),
        randomness=dict(seed=0),
        experiment_name='vqgan_smoke')))
    runner.train()
    metrics = runner.val_loop.run()
    assert 0 < metrics['reconstruction/psnr'] < 100
    assert 0 < metrics['reconstruction/codebook_usage'] <= 1
    checkpoint = load_checkpoint_file(str(tmp_path / 'work' / 'iter_3.pth'))
    generator_kwargs = generator_kwargs_from_checkpoint(checkpoint)
    assert generator_kwargs['n_embed'] == 64
    network = TamingVQGAN(**generator_kwargs)
    network.load_state_dict(generator_state_dict(checkpoint), strict=True)


def test_color_loss_adds_the_block_mean_l1_and_training_lowers_it():
    plain = _train(1, kmeans_iters=10)[0]
    with_color = _train(1, kmeans_iters=10, color_weight=2.0, color_pool=8)[0]
    assert 'loss_color' in with_color and 'loss_color' not in plain
    assert float(with_color['loss']) == pytest.approx(
        float(plain['loss']) + 2.0 * float(with_color['loss_color']), rel=1e-5)
    colored = _train(25, kmeans_iters=10, color_weight=4.0)
    assert float(colored[-1]['loss_color']) < 0.5 * float(colored[0]['loss_color'])


NARROW_GENERATOR = dict(
    ddconfig=dict(TINY_GENERATOR['ddconfig'], ch_mult=[1, 2]), n_embed=64, embed_dim=4)
WIDE_GENERATOR = dict(ddconfig=dict(NARROW_GENERATOR['ddconfig'], ch=64), n_embed=64, embed_dim=4)


def test_widened_vqgan_computes_what_the_narrow_one_computes():
    """32/64 channels per level (narrow) -> 64/128 (wide): GroupNorm over single channels and over
    pairs, a shortcut conv between the levels and the mid-block attention are on the way."""
    torch.manual_seed(0)
    narrow = TamingVQGAN(**NARROW_GENERATOR).eval()
    wide = TamingVQGAN(**WIDE_GENERATOR).eval()
    wide.load_state_dict(widen_state_dict(narrow.state_dict(), wide.state_dict()), strict=True)
    images = _smooth_images().float() / 127.5 - 1
    with torch.no_grad():
        expected, _, expected_codes = narrow(images)
        output, _, codes = wide(images)
        narrow_latents = narrow.encoder(images)
        wide_latents = wide.encoder(images)
    torch.testing.assert_close(wide_latents, narrow_latents, atol=1e-5, rtol=1e-5)
    assert torch.equal(codes, expected_codes)
    torch.testing.assert_close(output, expected, atol=1e-5, rtol=1e-5)
    # The copies of a channel read their inputs with different shares, so they train apart.
    weight = wide.decoder.up[0].block[0].conv1.weight
    assert not torch.equal(weight[:, 0::2], weight[:, 1::2])
    with pytest.raises(ValueError, match='not a multiple'):
        widen_state_dict(wide.state_dict(), TamingVQGAN(**dict(
            WIDE_GENERATOR, ddconfig=dict(WIDE_GENERATOR['ddconfig'], ch=96))).state_dict())


def test_trainer_starts_from_a_narrow_discretizer_file(tmp_path):
    torch.manual_seed(0)
    narrow = TamingVQGAN(**NARROW_GENERATOR)
    torch.save(narrow.state_dict(), tmp_path / 'narrow.pth')
    trainer = VQGANTrainer(generator=WIDE_GENERATOR, discriminator=None,
                           init_generator=str(tmp_path / 'narrow.pth'))
    trainer.init_weights()
    codebook = narrow.quantize.embedding.weight.detach()
    assert torch.equal(trainer.vqgan.quantize.embedding.weight.detach(), codebook)
    assert bool(trainer.codebook_guard.initialized)
    trainer.train_step(_batch(_smooth_images()), _optim_wrapper(trainer, lr=0.0))
    # no k-means on the first batch: the loaded codebook is kept
    assert torch.equal(trainer.vqgan.quantize.embedding.weight.detach(), codebook)
    broken = VQGANTrainer(generator=dict(WIDE_GENERATOR, n_embed=32), discriminator=None,
                          init_generator=str(tmp_path / 'narrow.pth'))
    with pytest.raises(ValueError, match='narrow.pth.*quantize.embedding.weight'):
        broken.init_weights()


def test_lite_feature_loss_compares_images_and_holds_no_state():
    loss = LiteFeatureLoss('lite1')
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1
    noisy = (images + 0.3 * torch.randn(2, 3, 64, 64, generator=generator)).clamp(-1, 1)
    blurred = torch.nn.functional.avg_pool2d(images, 5, 1, 2, count_include_pad=False)
    assert torch.allclose(loss(images, images), torch.zeros(2), atol=1e-6)
    assert (loss(images, noisy) > 0).all() and (loss(images, blurred) > 0).all()
    assert len(loss.state_dict()) == 0 and len(list(loss.parameters())) == 0
    reconstruction = blurred.clone().requires_grad_(True)
    loss(images, reconstruction).sum().backward()
    assert reconstruction.grad.abs().sum() > 0
    trainer = _trainer(discriminator=None, perceptual_weight=0.5, perceptual_net='efficientnet-lite1')
    logs = trainer.train_step(_batch(_smooth_images()), _optim_wrapper(trainer))
    assert float(logs['loss_perceptual']) > 0
    assert not any('perceptual' in key for key in trainer.state_dict())


def test_realism_figures_of_the_reconstruction_metric():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(20, 3, 32, 32, generator=generator)
    blurred = torch.nn.functional.avg_pool2d(images, 3, 1, 1, count_include_pad=False)
    shifted = images.clone()
    shifted[0] = (shifted[0] + 0.2).clamp(max=1)  # one image of 20 changes colour
    codes = torch.zeros(4, 4, dtype=torch.long)

    def metrics(reconstructions, frechet=False):
        metric = ReconstructionMetric(codebook_size=4, frechet=frechet)
        metric.process(None, [dict(input=image, reconstruction=rec, indices=codes)
                              for image, rec in zip(images, reconstructions)])
        return metric.compute_metrics(metric.results)

    same = metrics(images, frechet=True)
    assert same['hf_ratio'] == pytest.approx(1.0)
    assert same['color_shift_worst5'] == 0 and same['frechet_distance'] == pytest.approx(0, abs=1e-6)
    assert metrics(blurred)['hf_ratio'] < 0.2  # a blur removes the high frequencies' energy
    one_bad = metrics(shifted)
    assert one_bad['color_shift_worst5'] == pytest.approx(20 * one_bad['color_shift'])
    assert metrics(blurred, frechet=True)['frechet_distance'] > 0

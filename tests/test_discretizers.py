"""Tests of mmdat's discretizers (the frozen Q of DAT) on tiny VQGAN architectures."""
import copy
import pickle
import warnings

import pytest
import torch
import torch.nn as nn
from conftest import BF16_ATOL
from mmengine.registry import MODELS as MMENGINE_MODELS
from taming.modules.diffusionmodules.model import Decoder, Encoder
from taming.modules.vqvae.quantize import VectorQuantizer2

from mmdat.models.discretizers import (VQGAN_PRESETS, IdentityDiscretizer, TamingVQGAN, VQGANDiscretizer,
                                       get_vqgan_preset, inference)

TINY_DDCONFIG = dict(double_z=False, z_channels=4, resolution=64, in_channels=3, out_ch=3, ch=32,
                     ch_mult=[1, 2, 2], num_res_blocks=1, attn_resolutions=[16], dropout=0.0)
TINY = dict(ddconfig=TINY_DDCONFIG, n_embed=64, embed_dim=4)
TINY_GUMBEL = dict(ddconfig=dict(TINY_DDCONFIG, z_channels=8), n_embed=64, embed_dim=8,
                   quantizer='gumbel')


def tiny_discretizer(**kwargs) -> VQGANDiscretizer:
    """A randomly initialised tiny discretizer (the random-weights warning is expected)."""
    discretizer = VQGANDiscretizer(**{**TINY, **kwargs})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        discretizer.network
    return discretizer


def random_images(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


class TamingChain(nn.Module):
    """taming's modules wired by hand: Encoder -> quant_conv -> quantize -> post_quant_conv ->
    Decoder, with official attribute names."""

    def __init__(self, ddconfig: dict, n_embed: int, embed_dim: int) -> None:
        super().__init__()
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        self.quantize = VectorQuantizer2(n_embed, embed_dim, beta=0.25)
        self.quant_conv = nn.Conv2d(ddconfig['z_channels'], embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, ddconfig['z_channels'], 1)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """RGB in [0, 1] -> (reconstruction in [0, 1], flat code indices)."""
        latents = self.quant_conv(self.encoder(images * 2 - 1))
        z_q, _, (_, _, indices) = self.quantize(latents)
        decoded = self.decoder(self.post_quant_conv(z_q))
        return decoded.clamp(-1, 1).add(1).div(2), indices


def training_only_entries() -> dict:
    """Keys that official taming / latent-diffusion checkpoints hold besides the VQGAN."""
    return {
        'loss.logvar': torch.zeros(()),
        'loss.perceptual_loss.scaling_layer.shift': torch.zeros(1, 3, 1, 1),
        'loss.perceptual_loss.net.slice1.0.weight': torch.zeros(64, 3, 3, 3),
        'loss.perceptual_loss.lin0.model.1.weight': torch.zeros(1, 64, 1, 1),
        'loss.discriminator.main.0.weight': torch.zeros(64, 3, 4, 4),
        'loss.discriminator.main.3.running_mean': torch.zeros(128),
        'loss.discriminator.main.3.num_batches_tracked': torch.tensor(7),
    }


@pytest.fixture(scope='module')
def taming_chain() -> TamingChain:
    """Random weights, with codes drawn from the encoder's own latents: a random codebook sits near
    the origin, so nearly every token would pick the same few codes."""
    torch.manual_seed(1)
    chain = TamingChain(**TINY).eval()
    with torch.no_grad():
        latents = chain.quant_conv(chain.encoder(random_images(4, 3, 32, 32, seed=5) * 2 - 1))
        tokens = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
        chain.quantize.embedding.weight.copy_(tokens[torch.randperm(len(tokens))[:64]])
    return chain


@pytest.fixture()
def lightning_checkpoint(tmp_path, taming_chain) -> str:
    path = tmp_path / 'last.ckpt'
    state_dict = {**taming_chain.state_dict(), **training_only_entries()}
    torch.save({'state_dict': state_dict, 'epoch': 3, 'global_step': 1200}, path)
    return str(path)


def test_lightning_checkpoint_output_equals_taming_chain(lightning_checkpoint, taming_chain):
    images = random_images(2, 3, 32, 24)
    expected_images, expected_codes = taming_chain(images)
    discretizer = VQGANDiscretizer(**TINY, checkpoint=lightning_checkpoint, decoder='taming')
    assert expected_codes.unique().numel() > 10  # a meaningful comparison

    assert torch.equal(discretizer.discretize(images), expected_images)
    assert torch.equal(discretizer.codes(images).flatten(), expected_codes)


@pytest.mark.parametrize('options', [
    dict(attention='sdpa'), dict(channels_last=True), dict(attention='sdpa', channels_last=True)])
def test_fast_paths_give_taming_codes(lightning_checkpoint, taming_chain, options):
    images = random_images(2, 3, 32, 32, seed=3)
    expected_images, expected_codes = taming_chain(images)
    discretizer = VQGANDiscretizer(**TINY, checkpoint=lightning_checkpoint, **options)

    assert torch.equal(discretizer.codes(images).flatten(), expected_codes)
    atol = BF16_ATOL if discretizer.decoder == 'bf16' else 1e-4
    torch.testing.assert_close(discretizer.discretize(images), expected_images, atol=atol, rtol=0)


@pytest.mark.parametrize('decoder', [None, 'fast', 'bf16'])
def test_fast_decoders_keep_taming_codes(lightning_checkpoint, taming_chain, decoder):
    """The default is the fp32 'fast' decoder whatever the CPU's bf16 support: x̂ within 1e-5 of
    taming's chain; only the explicit 'bf16' decoder moves it further (the codes never move)."""
    images = random_images(2, 3, 24, 40, seed=4)
    expected_images, expected_codes = taming_chain(images)
    options = {} if decoder is None else dict(decoder=decoder)
    discretizer = VQGANDiscretizer(**TINY, checkpoint=lightning_checkpoint, **options)

    output, codes = discretizer.discretize_with_codes(images)

    assert torch.equal(codes.flatten(), expected_codes)
    atol = BF16_ATOL if decoder == 'bf16' else 1e-5
    torch.testing.assert_close(output, expected_images, atol=atol, rtol=0)
    assert discretizer.decoder == (decoder or 'fast')


@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
def test_blocked_codebook_search_and_attention_equal_taming_bit_for_bit(
        monkeypatch, taming_chain, memory_format):
    """Blocks of 64 rows with a ragged last block: the same bits as taming's whole matrices, also
    for channels-last features (mkldnn's convs return them even from contiguous inputs)."""
    monkeypatch.setattr(inference, 'BLOCK_ELEMENTS', 64 * 64)
    latents = torch.randn(2, 4, 10, 13, generator=torch.Generator().manual_seed(0))
    codebook = taming_chain.quantize.embedding.weight
    attention = taming_chain.encoder.down[2].attn[0]
    features = torch.randn(2, 64, 10, 13, generator=torch.Generator().manual_seed(1))
    features = features.contiguous(memory_format=memory_format)
    with torch.no_grad():
        _, _, (_, _, expected_codes) = taming_chain.quantize(latents)
        assert torch.equal(inference._nearest_codes(latents, codebook), expected_codes)
        expected = attention(features)
        blocked = inference._Arithmetic(False, 'taming').attention_block(attention, features)
    assert torch.equal(blocked, expected)


@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
def test_exact_encoder_equals_taming_encoder_bit_for_bit_in_either_layout(taming_chain,
                                                                          memory_format):
    """The in-place residuals and the blocked attention keep the layout taming's sums have, so
    every conv after them runs the kernel it runs in taming's encoder."""
    images = random_images(2, 3, 32, 32, seed=6).mul(2).sub(1).contiguous(
        memory_format=memory_format)
    with torch.no_grad():
        expected = taming_chain.encoder(images)
        features = inference._encoder(taming_chain.encoder, images,
                                      inference._Arithmetic(False, 'taming'))
    assert torch.equal(features, expected)


def test_codes_do_not_depend_on_the_input_layout(lightning_checkpoint):
    """The discretizer computes in one layout (its ``channels_last`` option), whatever the
    caller's: a batch stacked from HWC arrays gives the codes of the same batch made contiguous."""
    images = random_images(2, 3, 32, 32, seed=7)
    discretizer = VQGANDiscretizer(**TINY, checkpoint=lightning_checkpoint)
    channels_last = images.contiguous(memory_format=torch.channels_last)
    assert torch.equal(discretizer.codes(channels_last), discretizer.codes(images))


@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
def test_subpixel_upsample_conv_equals_upsample_then_conv(memory_format):
    conv = nn.Conv2d(6, 5, 3, padding=1)
    features = torch.randn(2, 6, 7, 9).contiguous(memory_format=memory_format)
    with torch.no_grad():
        expected = conv(nn.functional.interpolate(features, scale_factor=2.0, mode='nearest'))
        output = inference._subpixel_upsample_conv(conv, features)
    assert output.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(output, expected, atol=1e-5, rtol=0)


def test_mmengine_training_checkpoint_uses_generator_keys(tmp_path, taming_chain):
    state_dict = {f'generator.{key}': value for key, value in taming_chain.state_dict().items()}
    state_dict['discriminator.main.0.weight'] = torch.zeros(64, 3, 4, 4)
    path = tmp_path / 'iter_100.pth'
    torch.save({'meta': {'iter': 100}, 'state_dict': state_dict}, path)
    images = random_images(1, 3, 16, 16)

    discretizer = VQGANDiscretizer(**TINY, checkpoint=str(path), decoder='taming')

    assert torch.equal(discretizer.discretize(images), taming_chain(images)[0])


def test_plain_state_dict_loads(tmp_path, taming_chain):
    path = tmp_path / 'vqgan.pth'
    torch.save(taming_chain.state_dict(), path)
    images = random_images(1, 3, 16, 16)

    discretizer = VQGANDiscretizer(**TINY, checkpoint=str(path))

    assert torch.equal(discretizer.codes(images).flatten(), taming_chain(images)[1])


def test_key_mismatch_error_lists_keys_and_architecture(tmp_path, taming_chain):
    state_dict = taming_chain.state_dict()
    del state_dict['quant_conv.bias']
    state_dict['extra.weight'] = torch.zeros(1)
    path = tmp_path / 'mismatch.ckpt'
    torch.save({'state_dict': state_dict}, path)

    with pytest.raises(ValueError) as error:
        VQGANDiscretizer(**dict(TINY, n_embed=32), checkpoint=str(path)).codes(
            random_images(1, 3, 8, 8))

    message = str(error.value)
    assert 'mismatch.ckpt' in message
    assert 'custom architecture' in message and 'K=32' in message
    assert '1 missing keys: quant_conv.bias' in message
    assert '1 unexpected keys: extra.weight' in message
    assert 'quantize.embedding.weight (64, 4) in the file vs (32, 4) in the model' in message


def test_key_mismatch_error_names_preset_and_truncates(tmp_path, taming_chain):
    path = tmp_path / 'tiny.ckpt'
    torch.save({'state_dict': taming_chain.state_dict()}, path)

    with pytest.raises(ValueError) as error:
        VQGANDiscretizer(preset='openimages-f8-256', checkpoint=str(path)).network

    message = str(error.value)
    assert "preset 'openimages-f8-256'" in message
    assert VQGAN_PRESETS['openimages-f8-256'].url in message
    assert 'more)' in message  # long key lists are truncated


def test_missing_file_error_names_file(tmp_path):
    missing = str(tmp_path / 'no_such_vqgan.ckpt')
    discretizer = VQGANDiscretizer(**TINY, checkpoint=missing)

    with pytest.raises(FileNotFoundError, match='no_such_vqgan.ckpt'):
        discretizer.discretize(random_images(1, 3, 8, 8))


def test_unreachable_url_error_names_url_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    url = 'http://127.0.0.1:9/vq.ckpt'
    discretizer = VQGANDiscretizer(**TINY, checkpoint=url)

    with pytest.raises(RuntimeError) as error:
        discretizer.discretize(random_images(1, 3, 8, 8))

    message = str(error.value)
    assert url in message and 'custom architecture' in message
    assert str(tmp_path) in message  # where to put the file by hand


def test_odd_sizes_round_trip_in_unit_range():
    discretizer = tiny_discretizer()
    images = random_images(1, 3, 37, 53)

    output = discretizer.discretize(images)
    codes = discretizer.codes(images)

    assert output.shape == images.shape and output.dtype == images.dtype
    assert 0 <= output.min() and output.max() <= 1
    assert codes.shape == (1, 10, 14) and codes.dtype == torch.long


def test_chunked_equals_unchunked():
    images = random_images(5, 3, 16, 24)
    whole = tiny_discretizer()
    chunked = tiny_discretizer(chunk_size=2)

    assert torch.equal(chunked.codes(images), whole.codes(images))
    # CPU convolution kernels depend on the batch size, so only the last bits may differ.
    torch.testing.assert_close(chunked.discretize(images), whole.discretize(images),
                               atol=1e-5, rtol=0)
    # Each chunk is exactly the unchunked pass over the same images, in order.
    assert torch.equal(chunked.discretize(images)[2:4], whole.discretize(images[2:4]))


def test_output_has_no_grad_and_parameters_stay_frozen():
    discretizer = tiny_discretizer()
    images = random_images(1, 3, 16, 16).requires_grad_(True)

    output = discretizer.discretize(images)

    assert not output.requires_grad and output.grad_fn is None
    assert not any(param.requires_grad for param in discretizer.network.parameters())
    assert not discretizer.network.training
    with pytest.raises(RuntimeError):
        output.sum().backward()


def test_autocast_region_does_not_change_output():
    discretizer = tiny_discretizer()
    images = random_images(1, 3, 16, 16)
    expected = discretizer.discretize(images)

    with torch.autocast('cpu', dtype=torch.bfloat16):
        output = discretizer.discretize(images)

    assert output.dtype == torch.float32 and torch.equal(output, expected)


def test_attached_discretizer_adds_no_parameters_and_is_shared_by_deepcopy():
    discretizer = tiny_discretizer()
    holder = nn.Module()
    holder.discretizer = discretizer

    assert list(holder.parameters()) == [] and holder.state_dict() == {}
    assert copy.deepcopy(holder).discretizer is discretizer


def test_pickle_leaves_out_the_network():
    discretizer = tiny_discretizer()
    images = random_images(1, 3, 16, 16)
    expected = discretizer.discretize(images)

    payload = pickle.dumps(discretizer)
    restored = pickle.loads(payload)

    assert len(payload) < 10_000  # the tiny network alone is ~4 MB
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        assert torch.equal(restored.discretize(images), expected)


def test_building_keeps_global_rng_and_random_weights_are_reproducible():
    state = torch.get_rng_state()
    first, second = tiny_discretizer(), tiny_discretizer()

    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first.network.quantize.embedding.weight,
                       second.network.quantize.embedding.weight)


def test_random_weights_warn():
    with pytest.warns(UserWarning, match='random weights'):
        VQGANDiscretizer(**TINY).network


def test_gumbel_quantizer_is_deterministic_and_matches_module_eval():
    discretizer = tiny_discretizer(**TINY_GUMBEL)
    images = random_images(2, 3, 16, 16)

    codes = discretizer.codes(images)

    assert torch.equal(discretizer.codes(images), codes)
    assert torch.equal(discretizer.discretize(images), discretizer.discretize(images))
    with torch.no_grad():
        _, _, module_codes = discretizer.network.encode(images * 2 - 1)
    assert torch.equal(module_codes, codes)


def test_taming_vqgan_trains_with_straight_through_gradient():
    torch.manual_seed(0)
    network = TamingVQGAN(**TINY).train()
    images = random_images(2, 3, 16, 16) * 2 - 1

    reconstruction, vq_loss, indices = network(images)
    (reconstruction.abs().mean() + vq_loss).backward()

    assert reconstruction.shape == images.shape and indices.shape == (2, 4, 4)
    assert network.encoder.conv_in.weight.grad is not None
    assert network.quantize.embedding.weight.grad is not None


def test_every_preset_builds_its_architecture():
    expected_params = {  # millions, from the published configs
        'openimages-f8-16384': 67.7, 'openimages-f4-8192': 55.3, 'imagenet-f16-16384': 76.1}
    for name, preset in VQGAN_PRESETS.items():
        with torch.device('meta'):
            network = TamingVQGAN(**preset.model_kwargs())
        params = sum(param.numel() for param in network.parameters()) / 1e6
        discretizer = VQGANDiscretizer(preset=name)
        assert discretizer.downsample_factor == network.downsample_factor
        assert discretizer.num_codes == preset.n_embed
        if name in expected_params:
            assert params == pytest.approx(expected_params[name], abs=0.05)
    assert get_vqgan_preset('openimages-f8-16384').downsample_factor == 8
    assert get_vqgan_preset('openimages-gumbel-f8-8192').quantizer == 'gumbel'


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(KeyError, match='openimages-f8-16384'):
        VQGANDiscretizer(preset='f8')


@pytest.mark.parametrize('kwargs, match', [
    (dict(preset='openimages-f8-16384', n_embed=8), 'either preset or a custom'),
    (dict(), 'needs a preset'),
    (dict(TINY, chunk_size=0), 'chunk_size'),
    (dict(TINY, attention='flash'), 'attention'),
    (dict(TINY, precision='fp16'), 'precision'),
    (dict(TINY, decoder='fp16'), 'decoder'),
    (dict(TINY, ddconfig=dict(ch=32)), 'ddconfig lacks'),
    (dict(TINY, ddconfig=dict(TINY_DDCONFIG, double_z=True)), 'double_z=False'),
    (dict(TINY, quantizer='ema'), 'quantizer'),
])
def test_invalid_arguments_are_rejected(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        VQGANDiscretizer(**kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_network_follows_the_input_device():
    discretizer = tiny_discretizer()
    images = random_images(2, 3, 16, 16)
    cpu_codes = discretizer.codes(images)

    cuda_codes = discretizer.codes(images.cuda())

    assert cuda_codes.device.type == 'cuda'
    assert discretizer.network.post_quant_conv.weight.device.type == 'cuda'
    assert (cuda_codes.cpu() == cpu_codes).float().mean() > 0.99


def test_non_rgb_input_is_rejected():
    with pytest.raises(ValueError, match=r'N×3×H×W.*\(2, 1, 8, 8\)'):
        tiny_discretizer().discretize(torch.rand(2, 1, 8, 8))


def test_registry_builds_discretizers_by_mmdat_type():
    vqgan = MMENGINE_MODELS.build(dict(type='mmdat.VQGANDiscretizer', **TINY, chunk_size=4))
    identity = MMENGINE_MODELS.build(dict(type='mmdat.IdentityDiscretizer'))

    assert isinstance(vqgan, VQGANDiscretizer) and vqgan.chunk_size == 4
    assert vqgan.downsample_factor == 4 and vqgan.num_codes == 64
    assert isinstance(identity, IdentityDiscretizer)


def test_identity_discretizer_returns_a_detached_copy():
    discretizer = IdentityDiscretizer()
    images = random_images(2, 3, 9, 7).requires_grad_(True)

    output = discretizer.discretize(images)

    assert torch.equal(output, images) and not output.requires_grad
    assert output.data_ptr() != images.data_ptr()
    assert discretizer.codes(images) is None and discretizer.num_codes is None
    assert copy.deepcopy(discretizer) is discretizer


def test_discretize_with_codes_shares_one_pass_with_identical_results():
    discretizer = tiny_discretizer(chunk_size=2)
    images = random_images(3, 3, 40, 56)
    reconstruction, codes = discretizer.discretize_with_codes(images)
    assert torch.equal(reconstruction, discretizer.discretize(images))
    assert torch.equal(codes, discretizer.codes(images))

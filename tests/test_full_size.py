"""DAT at full size: the discretizer's memory grows with the pixels, not with their square, and a
shrunk mmdet Faster R-CNN step at an odd, non-square size keeps the padding and taming's codes.

The full-size figures (512² to 1333×800, f8-16384) are measured by the benchmarks
(docs/full_size.md); these tests hold the line at sizes CI can afford."""
import copy
import warnings

import pytest
import torch
from conftest import DET_NORM, bind
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from test_two_stage_dat import build_faster_rcnn

from mmdat.models.discretizers import VQGANDiscretizer
from mmdat.utils.profiling import PeakMemory

# f2 with attention at the latent resolution: at 192² a tokens×tokens matrix (9216² floats, 324 MiB)
# dwarfs the activations (4.5 MiB per 32-channel map), so it would show in the peak
WIDE_ATTENTION = dict(
    ddconfig=dict(double_z=False, z_channels=4, resolution=64, in_channels=3, out_ch=3, ch=32,
                  ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[32], dropout=0.0),
    n_embed=1024, embed_dim=4, checkpoint=None)
# f8 with attention in the encoder's and decoder's last levels, as the paper's VQGAN has
TINY_F8 = dict(
    ddconfig=dict(double_z=False, z_channels=4, resolution=64, in_channels=3, out_ch=3, ch=32,
                  ch_mult=[1, 1, 2, 2], num_res_blocks=1, attn_resolutions=[8], dropout=0.0),
    n_embed=256, embed_dim=4, checkpoint=None)


def random_discretizer(architecture: dict, **options) -> VQGANDiscretizer:
    torch.manual_seed(0)
    discretizer = VQGANDiscretizer(**architecture, **options)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random weights on purpose
        discretizer.network
    return discretizer


def taming_codes(network, images: torch.Tensor) -> torch.Tensor:
    """The codes of taming's own modules, called as taming calls them (N×h×w)."""
    with torch.no_grad():
        latents = network.quant_conv(network.encoder(images * 2 - 1))
        _, _, (_, _, indices) = network.quantize(latents)
    return indices.view(latents.shape[0], *latents.shape[2:])


def peak_mib(function, images: torch.Tensor) -> float:
    function(images[:, :, :64, :64])  # warm-up: thread pools, kernels
    return PeakMemory(torch.device('cpu')).measure(function, images)


def measured_peaks(function, sizes) -> list:
    peaks = [peak_mib(function, torch.rand(1, 3, size, size)) for size in sizes]
    if None in peaks:
        pytest.skip('peak memory is not measurable on this platform (no /proc/self/clear_refs)')
    return peaks


def test_discretizer_peak_memory_grows_no_faster_than_the_pixels():
    torch.set_num_threads(2)
    discretizer = random_discretizer(WIDE_ATTENTION)
    bound = (192 / 96) ** 2 * 1.2
    small, large = measured_peaks(discretizer.discretize, (96, 192))
    assert large <= bound * small, (small, large)

    # the test can fail: taming's own forward holds the tokens x tokens matrix (14x here)
    network = discretizer.network

    def taming_forward(images):
        with torch.no_grad():
            latents = network.quantize(network.quant_conv(network.encoder(images * 2 - 1)))[0]
            network.decoder(network.post_quant_conv(latents))

    small, large = measured_peaks(taming_forward, (96, 192))
    assert large > bound * small, (small, large)


def test_codebook_search_holds_no_tokens_by_codes_matrix():
    """16384 codes: one tokens x K matrix at 192² (f2) is 576 MiB; the whole pass stays far below."""
    torch.set_num_threads(2)
    discretizer = random_discretizer(dict(WIDE_ATTENTION, n_embed=16384))
    _, large = measured_peaks(discretizer.discretize, (96, 192))
    assert large < (192 // 2) ** 2 * 16384 * 4 / 2**20 / 4, large


@pytest.mark.parametrize('train_on', ['clean+adv', 'fused'])
def test_shrunk_faster_rcnn_step_at_an_odd_size_keeps_padding_and_tamings_codes(train_on):
    """Two images, 200×136 and 139×203 (W×H), padded by mmdet's preprocessor to 224×224."""
    discretizer = random_discretizer(TINY_F8)
    network = discretizer.network
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # codes drawn from the encoder's own latents: a random codebook sits at 0
        images = torch.rand(2, 3, 128, 128, generator=generator)
        latents = network.quant_conv(network.encoder(images * 2 - 1))
        tokens = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
        chosen = torch.randperm(len(tokens), generator=generator)[:256]
        network.quantize.embedding.weight.copy_(tokens[chosen])
    dat = dict(discretizer=dict(type='mmdat.VQGANDiscretizer', **TINY_F8), train_on=train_on,
               attack=dict(type='L2Attack', eps=2.0, step_size=2.0, random_start_prob=0.0))
    model = build_faster_rcnn(dat)
    model.data_preprocessor.discretizer = discretizer
    model.data_preprocessor.attack.bind_discretizer(discretizer)

    shapes = [(136, 200), (203, 139)]
    inputs, samples = [], []
    for h, w in shapes:
        inputs.append(torch.randint(0, 256, (3, h, w), generator=generator, dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0)))
        boxes = torch.tensor([[10., 12., 90., 100.], [40., 30., 130., 120.]])
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.tensor([0, 2]))
        samples.append(sample)
    batch = dict(inputs=inputs, data_samples=samples)

    calls = []
    discretize_with_codes = discretizer.discretize_with_codes

    def recorded(images):  # the real discretizer, its inputs and codes kept
        output, codes = discretize_with_codes(images)
        calls.append((images.detach().clone(), codes))
        return output, codes

    discretizer.discretize_with_codes = recorded
    stock = DetDataPreprocessor(**DET_NORM)(copy.deepcopy(batch), training=True)['inputs']
    bind(model)
    out = model.data_preprocessor(copy.deepcopy(batch), training=True)
    assert stock.shape[-2:] == (224, 224)

    adversarial = out['inputs'][-2:]
    for index, (h, w) in enumerate(shapes):
        padding = torch.ones(stock.shape[1:], dtype=torch.bool)
        padding[:, :h, :w] = False
        assert torch.equal(adversarial[index][padding], stock[index][padding])
        assert not torch.equal(adversarial[index][:, :h, :w], stock[index][:, :h, :w])

    assert len(calls) == (1 if train_on == 'fused' else 2)
    for images, codes in calls:
        expected = taming_codes(network, images)
        codes = codes.view(expected.shape)
        for index, (h, w) in enumerate(shapes):  # the tokens that lie wholly inside the image
            assert torch.equal(codes[index, :h // 8, :w // 8], expected[index, :h // 8, :w // 8])
        assert codes.unique().numel() > 10  # not one code everywhere


def test_full_size_benchmarks_run_in_single_pass_mode(tmp_path):
    """The commands of docs/full_size.md at test size: rows, the linear fit, the ratios to plain."""
    import json
    import os.path as osp

    from conftest import REPO_ROOT
    from test_tools_e2e import run_tool
    rows_file = str(tmp_path / 'discretizer.json')
    run_tool('benchmark_discretizer.py', '--preset', 'embedded-tiny-f8-512', '--size', '64', '96x64',
             '--batch', '1', '2', '--paths', 'default', '--single-pass', '--out', rows_file,
             cwd=REPO_ROOT)
    rows = json.load(open(rows_file))
    measured = [row for row in rows if 'fit' not in row]
    assert {(row['path'], row['size'], row['batch']) for row in measured} == {
        (path, size, batch) for path in ('taming', 'default') for size in ('64x64', '96x64')
        for batch in (1, 2)}
    assert all(row['code_agreement'] == 1.0 for row in measured if row['path'] == 'default')
    fits = {row['path']: row for row in rows if 'fit' in row}
    assert set(fits) == {'taming', 'default'} and fits['default']['slope'] > 0

    rows_file = str(tmp_path / 'dat.json')
    run_tool('benchmark_dat.py', '--model', 'faster-rcnn', '--size', '96x64', '--batch', '1',
             '--preset', 'embedded-tiny-f8-512', '--rows', 'fused', '--single-pass', '--out', rows_file,
             cwd=REPO_ROOT)
    rows = json.load(open(rows_file))
    assert [row['mode'] for row in rows] == ['plain', 'fused']
    assert rows[0]['ratio_to_plain'] == 1.0 and rows[1]['ratio_to_plain'] > 1.0
    assert rows[1]['size'] == '96x64' and osp.isfile(rows_file)

"""The discretizers shipped in checkpoints/: they load strictly and reconstruct the embedded val
split with the PSNR, colour shift and Fréchet distance that configs/vqgan/README.md documents."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import BF16_ATOL, REPO_ROOT
from PIL import Image

from mmdat.datasets import prepare_embedded_dataset
from mmdat.evaluation import ReconstructionMetric
from mmdat.models.discretizers import TamingVQGAN, VQGANDiscretizer, get_vqgan_preset
from mmdat.utils.checkpoint import load_checkpoint_file

# preset: (file, val PSNR in dB, mean colour shift in 0-255, Fréchet distance in Lite0 features), as
# configs/vqgan/README.md documents them for the 100 val images
SHIPPED = {
    'embedded-small-f4-4096': ('vqgan_small_f4_embedded.pth', 21.55, 6.34, 354.4),
    'embedded-tiny-f4-4096': ('vqgan_tiny_f4_embedded.pth', 22.06, 6.44, 452.2),
    'embedded-tiny-f8-512': ('vqgan_tiny_f8_embedded.pth', 18.60, 10.87, 581.0),
}


def shipped_network(preset: str) -> tuple[str, TamingVQGAN]:
    """The shipped file of ``preset`` and taming's network with it loaded strictly (eval mode)."""
    path = osp.join(REPO_ROOT, 'checkpoints', SHIPPED[preset][0])
    network = TamingVQGAN(**get_vqgan_preset(preset).model_kwargs()).eval()
    network.load_state_dict(load_checkpoint_file(path), strict=True)
    return path, network


@pytest.fixture(scope='module')
def val_images(tmp_path_factory):
    """The 100 val images of the embedded detection set (the val split does not depend on the
    train split's size), RGB in [0, 1]."""
    root = str(tmp_path_factory.mktemp('embedded_val') / 'embedded_det')
    prepare_embedded_dataset(root, task='det', num_train=1, num_val=100)
    names = sorted(os.listdir(osp.join(root, 'val')))
    images = [np.asarray(Image.open(osp.join(root, 'val', name)).convert('RGB')) for name in names]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255


@pytest.mark.parametrize('preset', list(SHIPPED))
def test_shipped_file_loads_strictly_and_keeps_the_documented_figures(preset, val_images):
    path, _ = shipped_network(preset)  # loads strictly
    _, documented_psnr, documented_colour, documented_frechet = SHIPPED[preset]
    discretizer = VQGANDiscretizer(preset=preset, checkpoint=path, chunk_size=25)
    with torch.no_grad():
        reconstructions, codes = discretizer.discretize_with_codes(val_images)
    metric = ReconstructionMetric(codebook_size=discretizer.network.n_embed, frechet=True)
    metric.process(None, [dict(input=image, reconstruction=reconstruction, indices=code) for
                          image, reconstruction, code in zip(val_images, reconstructions, codes)])
    figures = metric.compute_metrics(metric.results)
    assert figures['psnr'] == pytest.approx(documented_psnr, abs=0.05)
    assert figures['color_shift'] == pytest.approx(documented_colour, abs=0.05)
    assert figures['frechet_distance'] == pytest.approx(documented_frechet, rel=0.02)


def test_default_path_gives_taming_codes_on_the_shipped_discretizer(val_images):
    """The exact default on trained weights (random ones rarely put a token near a tie): the
    codes of taming's plain chain, and x̂ within fp32 noise of its decoder's. Both run on the
    contiguous batch, the layout the discretizer computes in (the val batch, stacked from HWC
    arrays, is channels-last, and mkldnn's kernels for the two layouts differ in the last bits)."""
    path, network = shipped_network('embedded-tiny-f4-4096')
    discretizer = VQGANDiscretizer(preset='embedded-tiny-f4-4096', checkpoint=path)
    images = val_images[:8].contiguous()
    with torch.no_grad():
        latents = network.quant_conv(network.encoder(images * 2 - 1))
        z_q, _, (_, _, expected_codes) = network.quantize(latents)
        expected = network.decoder(network.post_quant_conv(z_q)).clamp(-1, 1).add(1).div(2)
        reconstructions, codes = discretizer.discretize_with_codes(images)
    assert torch.equal(codes, expected_codes)
    atol = BF16_ATOL if discretizer.decoder == 'bf16' else 1e-4
    torch.testing.assert_close(reconstructions, expected, atol=atol, rtol=0)


def test_discretizer_report_measures_realism_per_texture_and_draws_the_figures(tmp_path):
    """tools/analysis/discretizer_report.py on 4 val images and 2 images per texture: every realism
    figure, a row per texture of the generator, the grid and the spectra."""
    import json
    import subprocess
    import sys
    root = tmp_path / 'embedded_det'
    prepare_embedded_dataset(str(root), task='det', num_train=1, num_val=4, show_progress=False)
    out = tmp_path / 'report'
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis', 'discretizer_report.py'), '--out',
         str(out), '--data-root', str(root), '--num-images', '4', '--per-texture', '2',
         '--discretizer', 'embedded-tiny-f4-4096'], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.load(open(out / 'report.json'))
    row = report['fidelity']['embedded-tiny-f4-4096']
    assert {'psnr', 'color_shift', 'color_shift_worst5', 'hf_ratio', 'frechet_distance',
            'ms_per_image'} <= set(row)
    assert 0 < row['hf_ratio'] < 0.5 and row['color_shift_worst5'] >= row['color_shift']
    textures = report['textures']['embedded-tiny-f4-4096']
    assert len(textures) == 8 and {'brick', 'grass', 'gravel', 'cat fur'} <= set(textures)
    assert (out / 'reconstructions.png').is_file() and (out / 'spectra.png').is_file()

"""Named VQGAN architectures with public weights (a data table, like timm's model configs).

Each preset fixes the taming ``ddconfig``, the codebook size K (``n_embed``), the code dimension d
(``embed_dim``) and the quantizer, so that the official checkpoint loads strictly. Nothing here
downloads anything: ``url`` only says where the weights are published.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Optional

from .taming_vqgan import downsample_factor


def _ddconfig(z_channels: int, ch_mult: list[int], attn_resolutions: list[int]) -> dict:
    """taming's ``ddconfig`` with the settings shared by every published first-stage model."""
    return dict(
        double_z=False,
        z_channels=z_channels,
        resolution=256,
        in_channels=3,
        out_ch=3,
        ch=128,
        ch_mult=list(ch_mult),
        num_res_blocks=2,
        attn_resolutions=list(attn_resolutions),
        dropout=0.0)


@dataclass(frozen=True)
class VQGANPreset:
    """One published VQGAN.

    Args:
        ddconfig (dict): taming's encoder/decoder config.
        n_embed (int): codebook size K.
        embed_dim (int): code dimension d.
        quantizer (str): ``'vq'`` or ``'gumbel'``.
        url (str): where the weights are published.
        url_note (str): how to get a checkpoint from ``url`` when it is a web page rather than a
            file. Defaults to ``''`` (``url`` can be passed as ``checkpoint``; zip archives such as
            latent-diffusion's are unpacked by mmdat's checkpoint loader).
        shipped (str, optional): the weights' path inside the mmdat repository, for the presets
            mmdat trained and ships (:func:`shipped_checkpoint`).
    """

    ddconfig: dict = field(repr=False)
    n_embed: int
    embed_dim: int
    quantizer: str
    url: str
    url_note: str = ''
    shipped: Optional[str] = None

    @property
    def downsample_factor(self) -> int:
        """Side of the image patch that one code stands for (f)."""
        return downsample_factor(self.ddconfig)

    def model_kwargs(self) -> dict:
        """Keyword arguments for :class:`TamingVQGAN`."""
        return dict(ddconfig=dict(self.ddconfig), n_embed=self.n_embed,
                    embed_dim=self.embed_dim, quantizer=self.quantizer)


_HEIBOX_FOLDER_NOTE = 'a folder page: download ckpts/last.ckpt and pass its path as checkpoint'
_HEIBOX_FILE_NOTE = 'a download link for last.ckpt: download it and pass its path as checkpoint'

VQGAN_PRESETS: dict[str, VQGANPreset] = {
    # latent-diffusion vq-f8, the VQGAN of the DAT paper (re-hosted as a plain .ckpt by easyrobust).
    'openimages-f8-16384': VQGANPreset(
        ddconfig=_ddconfig(4, [1, 2, 2, 4], [32]), n_embed=16384, embed_dim=4, quantizer='vq',
        url='http://alisec-competition.oss-cn-shanghai.aliyuncs.com/xiaofeng/easy_robust/'
        'pretrained_models/vqgan_openimages_f8_16384.ckpt'),
    'openimages-f8-256': VQGANPreset(
        ddconfig=_ddconfig(4, [1, 2, 2, 4], [32]), n_embed=256, embed_dim=4, quantizer='vq',
        url='https://ommer-lab.com/files/latent-diffusion/vq-f8-n256.zip'),
    'openimages-f16-16384': VQGANPreset(
        ddconfig=_ddconfig(8, [1, 1, 2, 2, 4], [16]), n_embed=16384, embed_dim=8, quantizer='vq',
        url='https://ommer-lab.com/files/latent-diffusion/vq-f16.zip'),
    'openimages-f4-8192': VQGANPreset(
        ddconfig=_ddconfig(3, [1, 2, 4], []), n_embed=8192, embed_dim=3, quantizer='vq',
        url='https://ommer-lab.com/files/latent-diffusion/vq-f4.zip'),
    'imagenet-f16-16384': VQGANPreset(
        ddconfig=_ddconfig(256, [1, 1, 2, 2, 4], [16]), n_embed=16384, embed_dim=256,
        quantizer='vq',
        url='https://heibox.uni-heidelberg.de/d/a7530b09fed84f80a887/files/'
        '?p=%2Fckpts%2Flast.ckpt&dl=1', url_note=_HEIBOX_FILE_NOTE),
    'imagenet-f16-1024': VQGANPreset(
        ddconfig=_ddconfig(256, [1, 1, 2, 2, 4], [16]), n_embed=1024, embed_dim=256, quantizer='vq',
        url='http://alisec-competition.oss-cn-shanghai.aliyuncs.com/xiaofeng/easy_robust/'
        'pretrained_models/vqgan_imagenet_f16_1024.ckpt'),
    # taming's GumbelVQ; mmdat quantizes with the deterministic argmax of the logits.
    'openimages-gumbel-f8-8192': VQGANPreset(
        ddconfig=_ddconfig(256, [1, 1, 2, 4], [32]), n_embed=8192, embed_dim=256,
        quantizer='gumbel', url='https://heibox.uni-heidelberg.de/d/2e5662443a6b4307b470/',
        url_note=_HEIBOX_FOLDER_NOTE),
    # mmdat's own small VQGANs, trained on the embedded dataset (configs/vqgan/) and shipped in the
    # repository. small-f4-4096 (64 channels, perceptual + PatchGAN losses) is the default of the CPU
    # configs and the demo since 2026-12-07; tiny-f4-4096, the default before, keeps less texture at a
    # third of the cost; tiny-f8-512, the first one, blurs the image and stays for reproducibility.
    # Figures: configs/vqgan/README.md.
    'embedded-small-f4-4096': VQGANPreset(
        ddconfig=dict(_ddconfig(4, [1, 1, 2], []), ch=64, num_res_blocks=1, resolution=64),
        n_embed=4096, embed_dim=4, quantizer='vq',
        url='checkpoints/vqgan_small_f4_embedded.pth (in the mmdat repository)',
        url_note='shipped with mmdat: pass the path of checkpoints/vqgan_small_f4_embedded.pth',
        shipped='checkpoints/vqgan_small_f4_embedded.pth'),
    'embedded-tiny-f4-4096': VQGANPreset(
        ddconfig=dict(_ddconfig(4, [1, 1, 2], []), ch=32, num_res_blocks=1, resolution=64),
        n_embed=4096, embed_dim=4, quantizer='vq',
        url='checkpoints/vqgan_tiny_f4_embedded.pth (in the mmdat repository)',
        url_note='shipped with mmdat: pass the path of checkpoints/vqgan_tiny_f4_embedded.pth',
        shipped='checkpoints/vqgan_tiny_f4_embedded.pth'),
    'embedded-tiny-f8-512': VQGANPreset(
        ddconfig=dict(_ddconfig(8, [1, 1, 2, 2], []), ch=32, num_res_blocks=1, resolution=64),
        n_embed=512, embed_dim=8, quantizer='vq',
        url='checkpoints/vqgan_tiny_f8_embedded.pth (in the mmdat repository)',
        url_note='shipped with mmdat: pass the path of checkpoints/vqgan_tiny_f8_embedded.pth',
        shipped='checkpoints/vqgan_tiny_f8_embedded.pth'),
}


def get_vqgan_preset(name: str) -> VQGANPreset:
    """Look up a preset by name.

    Args:
        name (str): a key of :data:`VQGAN_PRESETS`.

    Raises:
        KeyError: for an unknown name; the message lists the valid ones.
    """
    try:
        return VQGAN_PRESETS[name]
    except KeyError:
        raise KeyError(f'unknown VQGAN preset {name!r}; valid presets: '
                       f'{", ".join(VQGAN_PRESETS)}') from None


def shipped_checkpoint(name: str) -> str:
    """The absolute path of the weights mmdat ships for preset ``name`` (in a source checkout).

    Raises:
        KeyError: for a preset mmdat does not ship; the message lists those it does.
    """
    preset = get_vqgan_preset(name)
    if preset.shipped is None:
        shipped = [key for key, value in VQGAN_PRESETS.items() if value.shipped]
        raise KeyError(f'mmdat ships no weights for preset {name!r} (pass a checkpoint); it ships '
                       f'{", ".join(shipped)}')
    return osp.join(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
                    preset.shipped)


def describe_architecture(preset: Optional[str], ddconfig: dict, n_embed: int, embed_dim: int,
                          quantizer: str) -> str:
    """One-line description of a VQGAN architecture for error messages."""
    custom = (f'ch={ddconfig.get("ch")}, ch_mult={ddconfig.get("ch_mult")}, '
              f'num_res_blocks={ddconfig.get("num_res_blocks")}, '
              f'attn_resolutions={ddconfig.get("attn_resolutions")}, '
              f'z_channels={ddconfig.get("z_channels")}, K={n_embed}, d={embed_dim}, '
              f'quantizer={quantizer!r}')
    return f'preset {preset!r} ({custom})' if preset else f'custom architecture ({custom})'

"""The taming-transformers VQGAN architecture, built from taming's own modules.

Only ``taming.modules.diffusionmodules.model`` and ``taming.modules.vqvae.quantize`` are imported:
``taming.models`` needs pytorch-lightning 1.x. Attribute names match taming's ``VQModel`` so official
checkpoints load with ``strict=True`` once their ``loss.*`` keys are dropped.
"""
import contextlib
import io

import torch
import torch.nn as nn
import torch.nn.functional as F

#: the quantizers mmdat runs: taming's nearest-neighbour VQ and its Gumbel quantizer (argmax in eval)
QUANTIZERS = ('vq', 'gumbel')
#: Prefix of the VQGAN's keys inside an mmdat ``VQGANTrainer`` (mmengine) checkpoint.
GENERATOR_PREFIX = 'generator.'


def downsample_factor(ddconfig: dict) -> int:
    """Side f of the image patch that one code stands for: 2^(levels - 1)."""
    return 2**(len(ddconfig['ch_mult']) - 1)


def generator_entries(state_dict: dict) -> dict:
    """The ``generator.*`` entries of a ``VQGANTrainer`` state dict, without the prefix (empty when
    there are none)."""
    return {key[len(GENERATOR_PREFIX):]: value for key, value in state_dict.items()
            if key.startswith(GENERATOR_PREFIX)}


def check_quantizer(quantizer: str) -> None:
    """Raise a ValueError unless ``quantizer`` is one of :data:`QUANTIZERS`."""
    if quantizer not in QUANTIZERS:
        raise ValueError(f'quantizer must be one of {QUANTIZERS}, but got {quantizer!r}')


def _import_taming():
    try:
        from taming.modules.diffusionmodules.model import Decoder, Encoder
        from taming.modules.vqvae.quantize import GumbelQuantize, VectorQuantizer2
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'mmdat discretizers need taming-transformers modules: '
            "pip install --no-deps 'taming-transformers-rom1504==0.0.6' einops") from err
    return Encoder, Decoder, VectorQuantizer2, GumbelQuantize


class TamingVQGAN(nn.Module):
    """Encoder -> quant_conv -> quantize -> post_quant_conv -> Decoder, on images in [-1, 1].

    The same module serves training (``forward`` returns the VQ loss and keeps taming's
    straight-through gradient) and frozen use. A Gumbel quantizer samples in training mode and takes
    the deterministic argmax of its logits in eval mode.

    Args:
        ddconfig (dict): taming's ``ddconfig`` (ch, ch_mult, num_res_blocks, attn_resolutions,
            z_channels, resolution, in_channels, out_ch, dropout, double_z).
        n_embed (int): codebook size K.
        embed_dim (int): code dimension d.
        quantizer (str): ``'vq'`` (VectorQuantizer2) or ``'gumbel'`` (GumbelQuantize).
            Defaults to ``'vq'``.
        beta (float): commitment weight of the VQ loss. Defaults to 0.25.
        kl_weight (float): weight of the Gumbel quantizer's KL term. Defaults to 1e-8.
    """

    def __init__(self, ddconfig: dict, n_embed: int, embed_dim: int, quantizer: str = 'vq',
                 beta: float = 0.25, kl_weight: float = 1e-8) -> None:
        super().__init__()
        Encoder, Decoder, VectorQuantizer2, GumbelQuantize = _import_taming()
        check_quantizer(quantizer)
        self.quantizer_type = quantizer
        self.ddconfig = dict(ddconfig)
        self.n_embed = n_embed
        self.downsample_factor = downsample_factor(ddconfig)
        self.encoder = Encoder(**ddconfig)
        with contextlib.redirect_stdout(io.StringIO()):  # taming's Decoder prints the z shape
            self.decoder = Decoder(**ddconfig)
        z_channels = ddconfig['z_channels']
        if quantizer == 'vq':
            self.quantize = VectorQuantizer2(n_embed, embed_dim, beta=beta, sane_index_shape=True)
            self.quant_conv = nn.Conv2d(z_channels, embed_dim, 1)
        else:
            self.quantize = GumbelQuantize(z_channels, embed_dim, n_embed=n_embed,
                                           kl_weight=kl_weight, temp_init=1.0)
            self.quant_conv = nn.Conv2d(z_channels, z_channels, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode and quantize.

        Args:
            images (Tensor): N×3×H×W in [-1, 1], H and W multiples of ``downsample_factor``.

        Returns:
            tuple: ``(z_q, vq_loss, indices)``: quantized latents N×d×h×w, the scalar quantizer
            loss and the code indices N×h×w.
        """
        latents = self.quant_conv(self.encoder(images))
        if self.quantizer_type == 'gumbel' and not self.training:
            return self._gumbel_argmax(latents)
        z_q, vq_loss, (_, _, indices) = self.quantize(latents)
        return z_q, vq_loss, indices

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Decode quantized latents N×d×h×w to images N×3×H×W (roughly in [-1, 1])."""
        return self.decoder(self.post_quant_conv(z_q))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct images in [-1, 1]; returns ``(reconstruction, vq_loss, indices)``."""
        z_q, vq_loss, indices = self.encode(images)
        return self.decode(z_q), vq_loss, indices

    def gumbel_codes(self, latents: torch.Tensor) -> torch.Tensor:
        """The deterministic Gumbel code of each position: the argmax of the logits, N×h×w."""
        return self.quantize.proj(latents).argmax(dim=1)

    def gumbel_embedding(self, indices: torch.Tensor) -> torch.Tensor:
        """The Gumbel codebook rows of ``indices`` (N×h×w) as latents N×d×h×w."""
        return self.quantize.embed(indices).permute(0, 3, 1, 2).contiguous()

    def _gumbel_argmax(
            self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Deterministic Gumbel quantization: the most likely code, with taming's KL term."""
        logits = self.quantize.proj(latents)
        indices = logits.argmax(dim=1)
        z_q = self.gumbel_embedding(indices)
        probs = F.softmax(logits, dim=1)
        kl_to_uniform = torch.sum(probs * torch.log(probs * self.n_embed + 1e-10), dim=1).mean()
        return z_q, self.quantize.kl_weight * kl_to_uniform, indices

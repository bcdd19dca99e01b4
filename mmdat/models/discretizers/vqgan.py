"""The VQGAN discretizer of DAT: ``x̂ = Dec(quantize(Enc(x)))`` with a frozen taming VQGAN."""
import contextlib
import os.path as osp
import warnings
from typing import Iterator, Optional

import torch
import torch.nn.functional as F

from mmdat.registry import MODELS
from mmdat.utils.checkpoint import describe_mismatch, name_keys
from . import inference
from .base import BaseDiscretizer
from .presets import VQGAN_PRESETS, describe_architecture, get_vqgan_preset
from .taming_vqgan import TamingVQGAN, check_quantizer, downsample_factor, generator_entries

#: Prefixes of training-only modules that taming / latent-diffusion checkpoints also hold.
DROPPED_KEY_PREFIXES = ('loss.', 'model_ema.', 'discriminator.')
_REQUIRED_DDCONFIG_KEYS = ('ch', 'ch_mult', 'num_res_blocks', 'attn_resolutions', 'z_channels',
                           'resolution', 'in_channels', 'out_ch')
_KEYS_SHOWN = 8
DECODER_MODES = ('fast', 'bf16', 'taming')


@MODELS.register_module()
class VQGANDiscretizer(BaseDiscretizer):
    """Frozen taming VQGAN as the discretizer Q of DAT, on RGB images in [0, 1].

    Give either a ``preset`` (see :data:`mmdat.models.discretizers.VQGAN_PRESETS`) or a custom
    architecture (``ddconfig``, ``n_embed``, ``embed_dim``, ``quantizer``). The network is built
    and loaded on first use, follows the input's device, and runs in fp32 without gradients even
    inside an autocast region. H and W are padded (replicate) to multiples of the downsampling
    factor f and the output is cropped back.

    Args:
        preset (str, optional): name of a published architecture, e.g. ``'openimages-f8-16384'``.
        checkpoint (str, optional): local path or URL of the weights: a taming / latent-diffusion
            Lightning checkpoint (``loss.*`` and ``model_ema.*`` keys are ignored), a plain state
            dict, or an mmdat VQGAN training checkpoint (its ``generator.*`` keys are used).
            None gives random weights (with a warning), for tests and benchmarks.
        ddconfig (dict, optional): taming's encoder/decoder config of a custom architecture.
        n_embed (int, optional): codebook size K of a custom architecture.
        embed_dim (int, optional): code dimension d of a custom architecture.
        quantizer (str, optional): ``'vq'`` or ``'gumbel'`` (deterministic argmax) for a custom
            architecture. Defaults to ``'vq'`` there; presets fix it.
        chunk_size (int, optional): images per forward pass; bounds memory for large batches.
            Defaults to None (the whole batch at once).
        attention (str): the encoder's attention. ``'taming'``: taming's bmm attention over
            blocks of query rows, with codes equal to taming's forward bit for bit.
            ``'sdpa'``: fused ``scaled_dot_product_attention`` (faster where attention is large;
            the last bits differ, so a code in a near tie may flip). Defaults to ``'taming'``.
        channels_last (bool): run the encoder in channels-last memory (the last bits differ,
            as for ``'sdpa'``). Defaults to False.
        precision (str): the encoder's precision, ``'fp32'`` or ``'bf16'`` (bfloat16 autocast;
            the quantizer's distances stay fp32; many codes differ from fp32).
            Defaults to ``'fp32'``.
        decoder (str): how x̂ is decoded from the codes; no choice changes a code.
            ``'fast'``: fp32 under PyTorch's defaults, as the official code decodes, with
            channels-last, fused SiLU, sdpa attention and sub-pixel upsampling convs (x̂ within
            about 1e-5 of taming's on a CPU). ``'bf16'``: the same under bfloat16 autocast, faster
            where bf16 is native (CUDA, AVX512-BF16 / AMX CPUs) and x̂ off by up to a few 1e-2, so
            the same config gives another x̂ than the official code. ``'taming'``: taming's
            arithmetic, x̂ bit for bit. Defaults to ``'fast'``. The speed of each choice is in
            ``configs/vqgan/README.md``.
    """

    def __init__(self,
                 preset: Optional[str] = None,
                 checkpoint: Optional[str] = None,
                 ddconfig: Optional[dict] = None,
                 n_embed: Optional[int] = None,
                 embed_dim: Optional[int] = None,
                 quantizer: Optional[str] = None,
                 chunk_size: Optional[int] = None,
                 attention: str = 'taming',
                 channels_last: bool = False,
                 precision: str = 'fp32',
                 decoder: str = 'fast') -> None:
        self.preset = preset
        self.checkpoint = checkpoint
        self.model_kwargs = self._resolve_architecture(preset, ddconfig, n_embed, embed_dim,
                                                       quantizer)
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f'chunk_size must be a positive int or None, but got {chunk_size!r}')
        if attention not in inference.ATTENTION_MODES:
            raise ValueError(f'attention must be one of {inference.ATTENTION_MODES}, '
                             f'but got {attention!r}')
        if precision not in inference.PRECISIONS:
            raise ValueError(f'precision must be one of {inference.PRECISIONS}, '
                             f'but got {precision!r}')
        if decoder not in DECODER_MODES:
            raise ValueError(f'decoder must be one of {DECODER_MODES}, but got {decoder!r}')
        if checkpoint is not None and not isinstance(checkpoint, str):
            raise TypeError(f'checkpoint must be a path or URL string, but got {checkpoint!r}')
        self.chunk_size = chunk_size
        self.attention = attention
        self.channels_last = bool(channels_last)
        self.precision = precision
        self.decoder = decoder
        self.downsample_factor = downsample_factor(self.model_kwargs['ddconfig'])
        self.num_codes = self.model_kwargs['n_embed']
        self._network: Optional[TamingVQGAN] = None

    @staticmethod
    def _resolve_architecture(preset: Optional[str], ddconfig: Optional[dict],
                              n_embed: Optional[int], embed_dim: Optional[int],
                              quantizer: Optional[str]) -> dict:
        custom = dict(ddconfig=ddconfig, n_embed=n_embed, embed_dim=embed_dim, quantizer=quantizer)
        if preset is not None:
            given = [name for name, value in custom.items() if value is not None]
            if given:
                raise ValueError(f'give either preset or a custom architecture, but got preset '
                                 f'{preset!r} together with {", ".join(given)}')
            return get_vqgan_preset(preset).model_kwargs()
        if ddconfig is None or n_embed is None or embed_dim is None:
            raise ValueError('VQGANDiscretizer needs a preset (one of '
                             f'{", ".join(VQGAN_PRESETS)}) or ddconfig, n_embed and embed_dim')
        if not isinstance(ddconfig, dict):
            raise TypeError(f'ddconfig must be a dict, but got {type(ddconfig).__name__}')
        missing = [key for key in _REQUIRED_DDCONFIG_KEYS if key not in ddconfig]
        if missing:
            raise ValueError(f'ddconfig lacks {", ".join(missing)} (got {sorted(ddconfig)})')
        if ddconfig.get('double_z', False):
            raise ValueError('a VQGAN encoder outputs z_channels, so ddconfig needs '
                             f"double_z=False, but got double_z={ddconfig['double_z']!r}")
        for name, value in (('n_embed', n_embed), ('embed_dim', embed_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, but got {value!r}')
        if quantizer is not None:
            check_quantizer(quantizer)
        return dict(ddconfig=dict(ddconfig, double_z=False), n_embed=n_embed,
                    embed_dim=embed_dim, quantizer=quantizer or 'vq')

    @property
    def architecture(self) -> str:
        """Description of the expected architecture, used in error messages."""
        return describe_architecture(self.preset, **self.model_kwargs)

    @property
    def network(self) -> TamingVQGAN:
        """The frozen network (built and loaded on first access, on the CPU)."""
        if self._network is None:
            self._network = self._build_network()
        return self._network

    def discretize(self, images: torch.Tensor) -> torch.Tensor:
        """Return ``Q(images)`` for RGB images in [0, 1]: same shape and dtype, in [0, 1]."""
        return self.discretize_with_codes(images)[0]

    def discretize_with_codes(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(Q(images), codes(images))`` from one encoder pass."""
        self._check_images(images)
        with self._frozen(images.device):
            outputs, codes = zip(*(self._reconstruct(chunk) for chunk in self._chunks(images)))
        output = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
        return output.to(images.dtype), codes[0] if len(codes) == 1 else torch.cat(codes)

    def codes(self, images: torch.Tensor) -> torch.Tensor:
        """Return the code indices (N×ceil(H/f)×ceil(W/f), long) of RGB images in [0, 1]."""
        self._check_images(images)
        with self._frozen(images.device):
            codes = [self._encode(chunk)[1] for chunk in self._chunks(images)]
        return codes[0] if len(codes) == 1 else torch.cat(codes)

    # -- the code-space API (attacks that choose visual words: mmdat.models.attacks.discrete) ----------
    @property
    def supports_code_space(self) -> bool:
        return self.model_kwargs['quantizer'] == 'vq'

    @property
    def codebook(self) -> torch.Tensor:
        """The VQ codebook, K×d (on the network's current device)."""
        self._require_code_space()
        return self.network.quantize.embedding.weight

    def encode_latents(self, images: torch.Tensor) -> torch.Tensor:
        """The latents before quantization (``quant_conv(encoder(2x − 1))`` of the padded images,
        taming's arithmetic), N×d×ceil(H/f)×ceil(W/f), fp32, no gradient."""
        self._require_code_space()
        self._check_images(images)
        with self._frozen(images.device):
            network = self._network_on(images.device)
            padded = self._pad(images.float() * 2 - 1)
            return torch.cat([inference.encode_latents(network, chunk, self.attention, self.precision)
                              for chunk in self._chunks(padded)])

    def quantize_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """taming's nearest codebook index of each latent vector, N×h×w (long)."""
        self._require_code_space()
        with self._frozen(latents.device):
            return inference.nearest_codes(self._network_on(latents.device), latents.float())

    def embed_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """The codebook rows of ``codes`` (N×h×w) as z_q, N×d×h×w (fp32, no gradient)."""
        self._require_code_space()
        return self._network_on(codes.device).quantize.embedding.weight.detach()[codes].permute(
            0, 3, 1, 2).contiguous()

    def decode_latents(self, z_q: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """z_q (N×d×h×w) -> images in [0, 1], N×3×H×W cropped to ``size = (H, W)``, fp32.

        With gradients enabled and ``z_q.requires_grad``, taming's own decoder modules run (its
        arithmetic, differentiable with respect to z_q; the frozen weights get no gradient);
        otherwise the configured ``decoder`` path, the one :meth:`discretize` uses."""
        self._require_code_space()
        if not (torch.is_grad_enabled() and z_q.requires_grad):
            with self._frozen(z_q.device):
                return self._decode(z_q.float(), size)
        with torch.autocast(device_type=z_q.device.type, enabled=False):
            decoded = self._network_on(z_q.device).decode(z_q.float())
        return self._to_unit(decoded, size)

    def _decode(self, z_q: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The configured decoder path (no gradient): z_q -> images in [0, 1] cropped to ``size``."""
        decoded = inference.decode(self._network_on(z_q.device), z_q, fast=self.decoder != 'taming',
                                   bf16=self.decoder == 'bf16')
        return self._to_unit(decoded, size)

    @staticmethod
    def _to_unit(decoded: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The decoder's output (roughly in [-1, 1], padded) cropped to ``size`` and mapped to [0, 1]."""
        height, width = size
        return decoded[..., :height, :width].clamp(-1, 1).add(1).div(2)

    def _require_code_space(self) -> None:
        if not self.supports_code_space:
            raise ValueError(f'{self.architecture} has a Gumbel quantizer, not a VQ codebook searched '
                             'by nearest neighbour; the code-space API needs a VQ discretizer')

    def _reconstruct(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_q, codes = self._encode(images)
        return self._decode(z_q, images.shape[-2:]).contiguous(), codes

    def _encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        network = self._network_on(images.device)
        images = self._pad(images.float() * 2 - 1)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        images = images.contiguous(memory_format=memory_format)  # the layout sets the kernels
        return inference.encode(network, images, self.attention, self.precision)

    def _pad(self, images: torch.Tensor) -> torch.Tensor:
        factor = self.downsample_factor
        pad_height = -images.shape[-2] % factor
        pad_width = -images.shape[-1] % factor
        if pad_height == 0 and pad_width == 0:
            return images
        return F.pad(images, (0, pad_width, 0, pad_height), mode='replicate')

    def _chunks(self, images: torch.Tensor) -> Iterator[torch.Tensor]:
        if self.chunk_size is None or images.shape[0] <= self.chunk_size:
            yield images
        else:
            yield from images.split(self.chunk_size)

    @staticmethod
    def _frozen(device: torch.device) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.no_grad())
        stack.enter_context(torch.autocast(device_type=device.type, enabled=False))
        return stack

    def _network_on(self, device: torch.device) -> TamingVQGAN:
        network = self.network
        if network.post_quant_conv.weight.device != device:
            network.to(device)  # keeps the memory format
        return network

    def _build_network(self) -> TamingVQGAN:
        # A private RNG stream: building never shifts the trainer's random state, and random
        # weights (checkpoint=None) are the same in every process.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            network = TamingVQGAN(**self.model_kwargs)
        if self.checkpoint is None:
            warnings.warn(f'VQGANDiscretizer ({self.architecture}) has no checkpoint and uses '
                          'random weights; only useful for tests and benchmarks')
        else:
            load_vqgan_weights(network, self.checkpoint, self._checkpoint_context())
        network.eval().requires_grad_(False)
        if self.channels_last:
            network.to(memory_format=torch.channels_last)
        elif self.decoder != 'taming':  # the fast decoders run in channels-last
            network.decoder.to(memory_format=torch.channels_last)
            network.post_quant_conv.to(memory_format=torch.channels_last)
        return network

    def _checkpoint_context(self) -> str:
        context = self.architecture
        if self.preset is not None:
            preset = get_vqgan_preset(self.preset)
            context += f'; weights published at {preset.url}'
            if preset.url_note:
                context += f' ({preset.url_note})'
        return context

    def __getstate__(self) -> dict:
        # Pickles carry the configuration only; the network is rebuilt on first use.
        state = self.__dict__.copy()
        state['_network'] = None
        return state

    def __repr__(self) -> str:
        source = f'preset={self.preset!r}' if self.preset else 'custom'
        return (f'VQGANDiscretizer({source}, checkpoint={self.checkpoint!r}, '
                f'chunk_size={self.chunk_size}, attention={self.attention!r}, '
                f'channels_last={self.channels_last}, precision={self.precision!r}, '
                f'decoder={self.decoder!r})')


def load_vqgan_weights(network: TamingVQGAN, checkpoint: str, context: str) -> None:
    """Load a VQGAN checkpoint into ``network`` strictly, after dropping training-only keys.

    Args:
        network (TamingVQGAN): the network to fill.
        checkpoint (str): local path or URL (read by mmengine's ``CheckpointLoader``).
        context (str): the expected architecture (and where its weights are published), for
            error messages.

    Raises:
        FileNotFoundError: a local file does not exist.
        RuntimeError: the file or URL could not be read.
        ValueError: the keys or shapes do not match the architecture.
    """
    from mmengine.runner import CheckpointLoader

    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'VQGAN checkpoint file not found: {checkpoint!r} '
                                f'(expected {context})')
    try:
        loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    except Exception as err:
        raise RuntimeError(f'could not load VQGAN checkpoint {checkpoint!r} for {context}: '
                           f'{type(err).__name__}: {err}') from err
    state_dict = _vqgan_state_dict(loaded, checkpoint)
    mismatch = describe_mismatch(state_dict, network.state_dict(), shown=_KEYS_SHOWN)
    if mismatch:
        raise ValueError(f'VQGAN checkpoint {checkpoint!r} does not match {context}: {mismatch}')
    network.load_state_dict(state_dict, strict=True)


def _vqgan_state_dict(loaded: object, checkpoint: str) -> dict:
    """The VQGAN's own entries of a loaded checkpoint (see ``load_vqgan_weights``)."""
    if isinstance(loaded, dict) and isinstance(loaded.get('state_dict'), dict):
        state_dict = loaded['state_dict']
    elif isinstance(loaded, dict) and loaded and all(
            isinstance(value, torch.Tensor) for value in loaded.values()):
        state_dict = loaded
    else:
        found = (name_keys(sorted(loaded), _KEYS_SHOWN) if isinstance(loaded, dict) else
                 type(loaded).__name__)
        raise ValueError(f'{checkpoint!r} is neither a state dict nor a checkpoint with a '
                         f"'state_dict' entry (found {found})")
    generator = generator_entries(state_dict)
    if generator:
        return generator
    return {key: value for key, value in state_dict.items()
            if not key.startswith(DROPPED_KEY_PREFIXES)}

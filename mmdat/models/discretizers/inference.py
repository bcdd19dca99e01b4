"""A frozen, memory-lean forward pass through a :class:`TamingVQGAN`.

It runs the network's own layers in taming's order with taming's arithmetic, so with
``attention='taming'`` the results equal ``TamingVQGAN.forward`` bit for bit, but:

- the encoder keeps only the current activation (taming's ``Encoder.forward`` keeps every level's
  output alive until the end);
- swish and residual additions run in place, swish in blocks (same values, fewer buffers);
- the quantizer's token×K distance matrix is computed in slices of bounded size;
- ``attention='sdpa'`` replaces taming's bmm attention (which stores the full tokens×tokens
  matrix) with ``torch.nn.functional.scaled_dot_product_attention``;
- ``precision='bf16'`` runs the encoder and decoder under bfloat16 autocast; the quantizer's
  distances stay in fp32.

Call it under ``torch.no_grad()``; nothing here is differentiable on purpose.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .taming_vqgan import TamingVQGAN

#: Largest number of token-to-code distances held at once (64 MiB in fp32).
DISTANCES_PER_SLICE = 2**24
#: Elements per block of the in-place swish (1 MiB in fp32).
SWISH_BLOCK = 2**18
ATTENTION_MODES = ('sdpa', 'taming')
PRECISIONS = ('fp32', 'bf16')


def _swish_(features: torch.Tensor) -> torch.Tensor:
    """taming's ``x * sigmoid(x)``, in place and in cache-sized blocks, so the temporary
    ``sigmoid(x)`` never needs a full-size buffer."""
    dense = features if features.is_contiguous() else features.permute(0, 2, 3, 1)
    blocks = dense.view(-1).split(SWISH_BLOCK) if dense.is_contiguous() else (features, )
    for block in blocks:
        block.mul_(torch.sigmoid(block))
    return features


def _resnet_block(block: nn.Module, features: torch.Tensor) -> torch.Tensor:
    hidden = block.conv1(_swish_(block.norm1(features)))
    hidden = block.conv2(_swish_(block.norm2(hidden)))  # dropout is the identity in eval mode
    if block.in_channels != block.out_channels:
        shortcut = block.conv_shortcut if block.use_conv_shortcut else block.nin_shortcut
        features = shortcut(features)
    return hidden.add_(features)


def _attention_block(block: nn.Module, features: torch.Tensor, attention: str) -> torch.Tensor:
    if attention == 'taming':
        return block(features)
    normed = block.norm(features)
    batch, channels, height, width = normed.shape

    def tokens(projection: nn.Module) -> torch.Tensor:  # N×1×HW×C, one head
        return projection(normed).flatten(2).transpose(1, 2).unsqueeze(1)

    attended = F.scaled_dot_product_attention(tokens(block.q), tokens(block.k), tokens(block.v))
    attended = attended.squeeze(1).transpose(1, 2).reshape(batch, channels, height, width)
    return block.proj_out(attended).add_(features)


def _level(level: nn.Module, features: torch.Tensor, attention: str) -> torch.Tensor:
    for index, block in enumerate(level.block):
        features = _resnet_block(block, features)
        if len(level.attn) > 0:
            features = _attention_block(level.attn[index], features, attention)
    return features


def _middle(mid: nn.Module, features: torch.Tensor, attention: str) -> torch.Tensor:
    features = _resnet_block(mid.block_1, features)
    features = _attention_block(mid.attn_1, features, attention)
    return _resnet_block(mid.block_2, features)


def _encoder(encoder: nn.Module, images: torch.Tensor, attention: str) -> torch.Tensor:
    features = encoder.conv_in(images)
    for level in encoder.down:
        features = _level(level, features, attention)
        if hasattr(level, 'downsample'):
            features = level.downsample(features)
    features = _middle(encoder.mid, features, attention)
    return encoder.conv_out(_swish_(encoder.norm_out(features)))


def _decoder(decoder: nn.Module, latents: torch.Tensor, attention: str) -> torch.Tensor:
    features = _middle(decoder.mid, decoder.conv_in(latents), attention)
    for level in reversed(decoder.up):
        features = _level(level, features, attention)
        if hasattr(level, 'upsample'):
            features = level.upsample(features)
    return decoder.conv_out(_swish_(decoder.norm_out(features)))


def _nearest_codes(latents: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """VectorQuantizer2's argmin of ``|z|² + |e|² - 2 z·e`` over tokens, in bounded slices."""
    tokens = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
    codebook_sq = torch.sum(codebook**2, dim=1)
    slice_size = max(1, DISTANCES_PER_SLICE // codebook.shape[0])
    indices = []
    for token_slice in tokens.split(slice_size):
        distances = (torch.sum(token_slice**2, dim=1, keepdim=True) + codebook_sq
                     - 2 * torch.einsum('bd,dn->bn', token_slice, codebook.t()))
        indices.append(torch.argmin(distances, dim=1))
    return torch.cat(indices)


def _memory_format(images: torch.Tensor) -> torch.memory_format:
    channels_last = (images.is_contiguous(memory_format=torch.channels_last)
                     and not images.is_contiguous())
    return torch.channels_last if channels_last else torch.contiguous_format


def _autocast(images: torch.Tensor, precision: str) -> torch.autocast:
    return torch.autocast(device_type=images.device.type, dtype=torch.bfloat16,
                          enabled=precision == 'bf16')


def encode(network: TamingVQGAN, images: torch.Tensor, attention: str = 'taming',
           precision: str = 'fp32') -> tuple[torch.Tensor, torch.Tensor]:
    """Images in [-1, 1] (H, W multiples of f) -> ``(z_q, indices)`` (N×d×h×w, N×h×w)."""
    with _autocast(images, precision):
        latents = network.quant_conv(_encoder(network.encoder, images, attention))
    latents = latents.float()
    batch, _, height, width = latents.shape
    if network.quantizer_type == 'gumbel':
        indices = network.gumbel_codes(latents)
        z_q = network.gumbel_embedding(indices)
    else:
        flat_indices = _nearest_codes(latents, network.quantize.embedding.weight)
        indices = flat_indices.view(batch, height, width)
        nearest = network.quantize.embedding(indices).permute(0, 3, 1, 2)
        z_q = latents + (nearest - latents)  # taming's straight-through value, bit for bit
    return z_q.contiguous(memory_format=_memory_format(images)), indices


def decode(network: TamingVQGAN, z_q: torch.Tensor, attention: str = 'taming',
           precision: str = 'fp32') -> torch.Tensor:
    """Quantized latents -> images, roughly in [-1, 1] (not clamped; fp32)."""
    with _autocast(z_q, precision):
        return _decoder(network.decoder, network.post_quant_conv(z_q), attention).float()

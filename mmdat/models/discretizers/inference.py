"""A frozen, memory-lean forward pass through a :class:`TamingVQGAN`.

The encoder and the codebook search (everything the code indices depend on) run the network's
own layers in taming's order with taming's arithmetic: with ``attention='taming'`` the codes and
``z_q`` equal ``TamingVQGAN.encode`` bit for bit, but

- only the current activation is kept (taming's ``Encoder.forward`` keeps every level's output);
- swish runs in place in cache-sized blocks, and residual additions in place where both
  operands share a layout (taming's sum takes the layout that the next conv's kernel follows);
- attention runs over blocks of query rows and the quantizer's token×K distances over blocks of
  tokens, each block small enough to stay in cache, with the same matrix products as taming's
  (their rows do not depend on the blocking: tests pin this);
- ``attention='sdpa'`` or ``precision='bf16'`` trade exact codes for speed (opt-in).

The decoder only shapes x̂ from codes that are already fixed, so its fast path (``fast=True``)
changes pixels in their last bits, never a code: channels-last memory, fused SiLU,
``scaled_dot_product_attention``, and each nearest-upsample + 3×3 conv computed as four 2×2 convs
at the low resolution (the same linear map with 16 instead of 36 multiply-adds per input pixel
and output channel). ``bf16=True`` adds bfloat16 autocast on top.

Call it under ``torch.no_grad()``; nothing here is differentiable on purpose.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .taming_vqgan import TamingVQGAN

#: Elements of one block of distances or attention weights (2 MiB in fp32: stays in cache).
BLOCK_ELEMENTS = 2**19
#: Rows of a block are a multiple of this, so that a block's matrix-product rows equal the full
#: product's (BLAS kernels tile rows by up to this many).
BLOCK_ROW_MULTIPLE = 64
#: Elements per block of the in-place swish (1 MiB in fp32).
SWISH_BLOCK = 2**18
ATTENTION_MODES = ('sdpa', 'taming')
PRECISIONS = ('fp32', 'bf16')


def _row_blocks(num_rows: int, row_length: int) -> list[slice]:
    """Blocks of rows of a matrix with rows of ``row_length`` elements: each about
    ``BLOCK_ELEMENTS`` large, starting at multiples of ``BLOCK_ROW_MULTIPLE``, the remainder
    joined to the last block (a product of very few rows takes a different BLAS kernel)."""
    rows = BLOCK_ELEMENTS // max(1, row_length)
    rows = max(BLOCK_ROW_MULTIPLE, rows - rows % BLOCK_ROW_MULTIPLE)
    starts = list(range(0, num_rows, rows))
    if len(starts) > 1 and num_rows - starts[-1] < rows:
        starts.pop()
    return [slice(start, end) for start, end in zip(starts, starts[1:] + [num_rows])]


def _swish_(features: torch.Tensor) -> torch.Tensor:
    """taming's ``x * sigmoid(x)``, in place and in cache-sized blocks, so the temporary
    ``sigmoid(x)`` never needs a full-size buffer."""
    dense = features if features.is_contiguous() else features.permute(0, 2, 3, 1)
    blocks = dense.view(-1).split(SWISH_BLOCK) if dense.is_contiguous() else (features, )
    for block in blocks:
        block.mul_(torch.sigmoid(block))
    return features


def _silu_(features: torch.Tensor) -> torch.Tensor:
    """The same function in one fused pass (its last bits differ from ``x * sigmoid(x)``)."""
    return F.silu(features, inplace=True)


class _Arithmetic:
    """How one half of the network computes: taming's exact kernels or the fast ones."""

    def __init__(self, fast: bool, attention: str) -> None:
        self.fast = fast
        self.attention = 'sdpa' if fast else attention
        self.swish_ = _silu_ if fast else _swish_

    def resnet_block(self, block: nn.Module, features: torch.Tensor) -> torch.Tensor:
        hidden = block.conv1(self.swish_(block.norm1(features)))
        hidden = block.conv2(self.swish_(block.norm2(hidden)))  # dropout: identity in eval mode
        if block.in_channels != block.out_channels:
            shortcut = block.conv_shortcut if block.use_conv_shortcut else block.nin_shortcut
            features = shortcut(features)
        return _residual(features, hidden)

    def attention_block(self, block: nn.Module, features: torch.Tensor) -> torch.Tensor:
        normed = block.norm(features)
        batch, channels, height, width = normed.shape
        if self.attention == 'sdpa':
            def tokens(projection: nn.Module) -> torch.Tensor:  # N×1×HW×C, one head
                return projection(normed).flatten(2).transpose(1, 2).unsqueeze(1)

            attended = F.scaled_dot_product_attention(tokens(block.q), tokens(block.k),
                                                      tokens(block.v))
            attended = attended.squeeze(1).transpose(1, 2).reshape(batch, channels, height, width)
        else:
            attended = _blocked_taming_attention(block, normed)
        return _residual(features, block.proj_out(attended))

    def level(self, level: nn.Module, features: torch.Tensor) -> torch.Tensor:
        for index, block in enumerate(level.block):
            features = self.resnet_block(block, features)
            if len(level.attn) > 0:
                features = self.attention_block(level.attn[index], features)
        return features

    def middle(self, mid: nn.Module, features: torch.Tensor) -> torch.Tensor:
        features = self.resnet_block(mid.block_1, features)
        features = self.attention_block(mid.attn_1, features)
        return self.resnet_block(mid.block_2, features)

    def upsample(self, upsample: nn.Module, features: torch.Tensor) -> torch.Tensor:
        if self.fast and upsample.with_conv:
            return _subpixel_upsample_conv(upsample.conv, features)
        return upsample(features)


def _residual(features: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """taming's ``x + h``: in place into ``hidden`` when both share a layout, else out of place,
    so the sum takes the layout taming's sum has (the next conv's kernel follows it)."""
    if features.stride() == hidden.stride():
        return hidden.add_(features)
    return features + hidden


def _blocked_taming_attention(block: nn.Module, normed: torch.Tensor) -> torch.Tensor:
    """taming's ``AttnBlock`` before ``proj_out`` (bmm, scale, softmax, bmm) over blocks of
    query rows: never the whole tokens×tokens matrix. The batch stays whole, as in taming's
    bmm (a per-image split can change how BLAS shares the work, and so the last bits)."""
    batch, channels, height, width = normed.shape
    queries = block.q(normed).reshape(batch, channels, -1).permute(0, 2, 1)  # N×HW×C
    keys = block.k(normed).reshape(batch, channels, -1)  # N×C×HW
    values = block.v(normed).reshape(batch, channels, -1)
    # Contiguous like taming's bmm output, whatever layout the convs chose (mkldnn may return
    # channels-last even for contiguous inputs): proj_out's kernel follows its input's layout.
    attended = values.new_empty(values.shape)
    scale = int(channels)**(-0.5)
    for rows in _row_blocks(queries.shape[1], batch * keys.shape[2]):
        weights = torch.softmax(torch.bmm(queries[:, rows], keys).mul_(scale), dim=2)
        attended[:, :, rows] = torch.bmm(values, weights.permute(0, 2, 1))
    return attended.reshape(batch, channels, height, width)


def _subpixel_weights(conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights of the 2×2 convs that give ``conv(nearest_upsample_x2(x))`` from ``x``.

    Output row 2i + a of a 3×3 conv over the upsampled image reads input rows (i-1, i, i) for
    a = 0 and (i, i, i+1) for a = 1, so each output phase (a, b) is a 2×2 conv over the padded
    input with the kernel taps summed accordingly. Returned as one conv with the four phases
    stacked phase-major (4·O outputs), and its bias.
    """
    weight = conv.weight  # O×I×3×3

    def phases(kernel: torch.Tensor, dim: int) -> list[torch.Tensor]:
        first, middle, last = kernel.unbind(dim)
        return [torch.stack((first, middle + last), dim), torch.stack((first + middle, last), dim)]

    kernels = [column for row in phases(weight, 2) for column in phases(row, 3)]
    bias = conv.bias.repeat(4) if conv.bias is not None else None
    return torch.cat(kernels), bias


def _subpixel_upsample_conv(conv: nn.Conv2d, features: torch.Tensor) -> torch.Tensor:
    """``conv(F.interpolate(features, scale_factor=2, mode='nearest'))`` in channels-last, with
    16 instead of 36 multiply-adds per input pixel and output channel (see ``_subpixel_weights``)."""
    weight, bias = _subpixel_weights(conv)
    weight = weight.contiguous(memory_format=torch.channels_last)
    phases = F.conv2d(F.pad(features, (1, 1, 1, 1)), weight, bias)  # N×4O×(H+1)×(W+1)
    batch, _, height, width = features.shape
    channels = conv.out_channels
    output = torch.empty(batch, channels, 2 * height, 2 * width, dtype=phases.dtype,
                         device=phases.device, memory_format=torch.channels_last)
    output_pixels = output.permute(0, 2, 3, 1).view(batch, height, 2, width, 2, channels)
    phase_pixels = phases.permute(0, 2, 3, 1)
    for row in (0, 1):
        for column in (0, 1):
            phase = 2 * row + column
            output_pixels[:, :, row, :, column] = phase_pixels[
                :, row:row + height, column:column + width, phase * channels:(phase + 1) * channels]
    return output


def _encoder(encoder: nn.Module, images: torch.Tensor, arithmetic: _Arithmetic) -> torch.Tensor:
    features = encoder.conv_in(images)
    for level in encoder.down:
        features = arithmetic.level(level, features)
        if hasattr(level, 'downsample'):
            features = level.downsample(features)
    features = arithmetic.middle(encoder.mid, features)
    return encoder.conv_out(arithmetic.swish_(encoder.norm_out(features)))


def _decoder(decoder: nn.Module, latents: torch.Tensor, arithmetic: _Arithmetic) -> torch.Tensor:
    features = arithmetic.middle(decoder.mid, decoder.conv_in(latents))
    for level in reversed(decoder.up):
        features = arithmetic.level(level, features)
        if hasattr(level, 'upsample'):
            features = arithmetic.upsample(level.upsample, features)
    return decoder.conv_out(arithmetic.swish_(decoder.norm_out(features)))


def _nearest_codes(latents: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """VectorQuantizer2's argmin of ``|z|² + |e|² - 2 z·e`` over tokens, in cache-sized blocks
    of tokens (the same values: doubling is exact and the block's products equal the full
    product's rows)."""
    tokens = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
    codebook_sq = torch.sum(codebook**2, dim=1)
    blocks = _row_blocks(tokens.shape[0], codebook.shape[0])
    distances = tokens.new_empty(max(block.stop - block.start for block in blocks),
                                 codebook.shape[0])
    products = torch.empty_like(distances)
    indices = torch.empty(tokens.shape[0], dtype=torch.long, device=tokens.device)
    for rows in blocks:
        block = tokens[rows]
        block_distances, block_products = distances[:len(block)], products[:len(block)]
        torch.add(torch.sum(block**2, dim=1, keepdim=True), codebook_sq, out=block_distances)
        torch.mm(block, codebook.t(), out=block_products)
        block_distances.sub_(block_products.mul_(2))
        torch.argmin(block_distances, dim=1, out=indices[rows])
    return indices


def _memory_format(images: torch.Tensor) -> torch.memory_format:
    channels_last = (images.is_contiguous(memory_format=torch.channels_last)
                     and not images.is_contiguous())
    return torch.channels_last if channels_last else torch.contiguous_format


def _autocast(device: torch.device, enabled: bool) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (CUDA with bf16, or a CPU with AVX512-BF16 /
    AMX), i.e. whether bf16 is faster than fp32 there."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    if device.type == 'cpu':
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def encode_latents(network: TamingVQGAN, images: torch.Tensor, attention: str = 'taming',
                   precision: str = 'fp32') -> torch.Tensor:
    """Images in [-1, 1] (H, W multiples of f) -> the latents before quantization, N×d×h×w (fp32)."""
    with _autocast(images.device, precision == 'bf16'):
        features = _encoder(network.encoder, images, _Arithmetic(False, attention))
        latents = network.quant_conv(features)
    return latents.float()


def nearest_codes(network: TamingVQGAN, latents: torch.Tensor) -> torch.Tensor:
    """The VQ codebook index nearest to each latent vector, N×h×w (taming's argmin, blocked)."""
    batch, _, height, width = latents.shape
    return _nearest_codes(latents, network.quantize.embedding.weight).view(batch, height, width)


def encode(network: TamingVQGAN, images: torch.Tensor, attention: str = 'taming',
           precision: str = 'fp32') -> tuple[torch.Tensor, torch.Tensor]:
    """Images in [-1, 1] (H, W multiples of f) -> ``(z_q, indices)`` (N×d×h×w, N×h×w)."""
    latents = encode_latents(network, images, attention, precision)
    if network.quantizer_type == 'gumbel':
        indices = network.gumbel_codes(latents)
        z_q = network.gumbel_embedding(indices)
    else:
        indices = nearest_codes(network, latents)
        nearest = network.quantize.embedding(indices).permute(0, 3, 1, 2)
        z_q = latents + (nearest - latents)  # taming's straight-through value, bit for bit
    return z_q.contiguous(memory_format=_memory_format(images)), indices


def decode(network: TamingVQGAN, z_q: torch.Tensor, fast: bool = True,
           bf16: bool = False) -> torch.Tensor:
    """Quantized latents -> images, roughly in [-1, 1] (not clamped; fp32).

    ``fast=False`` computes taming's ``decode`` bit for bit (the network must then be in
    contiguous memory); ``fast=True`` runs the fast path of the module docstring, and ``bf16``
    adds bfloat16 autocast to it.
    """
    if fast:
        z_q = z_q.contiguous(memory_format=torch.channels_last)
    with _autocast(z_q.device, bf16):
        latents = network.post_quant_conv(z_q)
        return _decoder(network.decoder, latents, _Arithmetic(fast, 'taming')).float()

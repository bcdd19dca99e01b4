"""Start a wider VQGAN from a trained narrow one with the same function (Net2WiderNet, Chen et al.,
ICLR 2016).

Each channel of the narrow network becomes ``k`` adjacent channels of the wide one: a layer's output
channels are repeated, and its input weights are split between the copies with random shares that
sum to one, so every wide layer computes the narrow layer's values, repeated. Taming's GroupNorm
keeps its 32 groups, and a wide group holds exactly the copies of a narrow group's channels, so the
normalisation sees the same statistics. The attention's query is scaled by ``k^-1/2`` to undo the
longer dot product. Because the shares differ, the copies get different gradients and drift apart
in training.

Why widen a small VQGAN: with 32 channels in its last decoder level, taming's output GroupNorm is an
instance norm that removes each channel's mean from the image, and with it the image's mean colour;
64 channels pair them up, the paper's 128 group four (configs/vqgan/README.md).
"""
import re

import torch

# Layers whose input is the image or the latent code, and whose output is the image or the
# latent: those sides keep their size.
_FIXED_INPUT = re.compile(r'^(encoder|decoder)\.conv_in\.weight$')
_FIXED_OUTPUT = re.compile(r'^(encoder|decoder)\.conv_out\.(weight|bias)$')
_QUERY = re.compile(r'\.q\.(weight|bias)$')


def _factor(narrow: int, wide: int, key: str) -> int:
    if wide % narrow:
        raise ValueError(f'cannot widen {key} from {narrow} to {wide} channels: {wide} is not a '
                         f'multiple of {narrow}')
    return wide // narrow


def _split_shares(factor: int, channels: int, generator: torch.Generator) -> torch.Tensor:
    """Random shares (factor·channels,) that sum to one over each channel's copies."""
    shares = torch.rand(channels, factor, generator=generator, dtype=torch.float64) + 0.5
    return (shares / shares.sum(dim=1, keepdim=True)).reshape(-1)


def widen_state_dict(narrow: dict, wide_shapes: dict, seed: int = 0) -> dict:
    """A state dict for the wide VQGAN that computes what ``narrow`` computes.

    Args:
        narrow (dict): the narrow network's state dict (taming's keys: ``encoder.*``,
            ``decoder.*``, ``quant_conv.*``, ``quantize.*``, ``post_quant_conv.*``).
        wide_shapes (dict): the wide network's state dict or ``{key: shape}``; same keys, every
            size a multiple of the narrow one's.
        seed (int): seed of the random input-weight shares. Defaults to 0.

    Raises:
        KeyError: when the key sets differ.
        ValueError: when a wide size is not a multiple of the narrow one.
    """
    if set(narrow) != set(wide_shapes):
        missing, extra = sorted(set(wide_shapes) - set(narrow)), sorted(set(narrow) - set(wide_shapes))
        raise KeyError(f'the narrow and wide VQGANs have different layers: missing {missing[:5]}, '
                       f'unexpected {extra[:5]}')
    generator = torch.Generator().manual_seed(seed)
    wide = {}
    for key, tensor in narrow.items():
        shape = tuple(getattr(wide_shapes[key], 'shape', wide_shapes[key]))
        value = tensor.double()
        if shape == tuple(tensor.shape):
            wide[key] = tensor.clone()
            continue
        if value.dim() >= 1 and not _FIXED_OUTPUT.match(key):
            value = value.repeat_interleave(_factor(value.shape[0], shape[0], key), dim=0)
        if value.dim() == 4 and not _FIXED_INPUT.match(key):
            factor = _factor(value.shape[1], shape[1], key)
            shares = _split_shares(factor, value.shape[1], generator)
            value = value.repeat_interleave(factor, dim=1) * shares.view(1, -1, 1, 1)
        if _QUERY.search(key):
            value = value * (shape[0] / tensor.shape[0])**-0.5
        if tuple(value.shape) != shape:
            raise ValueError(f'cannot widen {key} from {tuple(tensor.shape)} to {shape}')
        wide[key] = value.to(tensor.dtype)
    return wide

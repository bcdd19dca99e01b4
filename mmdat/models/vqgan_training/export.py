"""Turn a :class:`VQGANTrainer` checkpoint into a plain discretizer state dict."""
from typing import Optional

import torch
from mmengine.config import Config

from mmdat.models.discretizers.taming_vqgan import GENERATOR_PREFIX, TamingVQGAN, generator_entries


def generator_state_dict(checkpoint: dict, source: str = 'checkpoint') -> dict[str, torch.Tensor]:
    """The generator's weights of an mmengine checkpoint of :class:`VQGANTrainer`, in taming's key
    layout (``encoder.*``, ``quantize.embedding.weight``, ...), as contiguous fp32 CPU tensors.

    Args:
        checkpoint (dict): a loaded mmengine checkpoint (with ``state_dict``) or its state dict.
        source (str): name of the checkpoint, for error messages. Defaults to ``'checkpoint'``.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    generator = {key: value.detach().to('cpu', torch.float32).contiguous().clone()
                 for key, value in generator_entries(state_dict).items()
                 if isinstance(value, torch.Tensor)}
    if not generator:
        raise KeyError(f'{source} holds no {GENERATOR_PREFIX}* keys, so it is not a VQGANTrainer '
                       f'checkpoint (first keys: {sorted(state_dict)[:5]})')
    return generator


def generator_kwargs_from_checkpoint(checkpoint: dict) -> Optional[dict]:
    """The ``model.generator`` settings (``ddconfig``, ``n_embed``, ``embed_dim``, ...) of the
    config that mmengine saved in the checkpoint's ``meta['cfg']``; None when there is none."""
    config_text = checkpoint.get('meta', {}).get('cfg')
    if not config_text:
        return None
    config = Config.fromstring(config_text, file_format='.py')
    return config.model.generator.to_dict()


def build_generator(generator_kwargs: dict, state_dict: dict[str, torch.Tensor]) -> TamingVQGAN:
    """A :class:`TamingVQGAN` with ``state_dict`` loaded strictly (raises on any key mismatch)."""
    network = TamingVQGAN(**generator_kwargs)
    network.load_state_dict(state_dict, strict=True)
    return network

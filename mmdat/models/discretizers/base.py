"""The interface shared by all discretizers (the frozen Q of DAT)."""
from abc import ABCMeta, abstractmethod
from typing import Optional, Tuple

import torch


class BaseDiscretizer(metaclass=ABCMeta):
    """A frozen image discretizer ``x̂ = Q(x)`` on RGB images in [0, 1].

    A discretizer is deliberately not an ``nn.Module``: assigning it to a module attribute adds no
    parameters, ``state_dict`` keys or optimizer entries, ``copy.deepcopy`` (e.g. mmengine's EMA
    model) returns the same object, and pickling leaves out any built network.

    Subclasses implement :meth:`discretize` and :meth:`codes` and set :attr:`downsample_factor` and
    :attr:`num_codes`.
    """

    #: Side of the image patch that one code stands for.
    downsample_factor: int
    #: Codebook size, or None without a codebook.
    num_codes: Optional[int]

    @abstractmethod
    def discretize(self, images: torch.Tensor) -> torch.Tensor:
        """Return ``Q(images)``: N×3×H×W in [0, 1], same shape and dtype, no gradient."""

    @abstractmethod
    def codes(self, images: torch.Tensor) -> Optional[torch.Tensor]:
        """Return the code indices of ``images`` (N×h×w, long), or None without a codebook."""

    def discretize_with_codes(
            self, images: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Return ``(Q(images), codes(images))``; subclasses override it to share one encoder pass."""
        return self.discretize(images), self.codes(images)

    @property
    def supports_code_space(self) -> bool:
        """Whether the code-space API (:meth:`encode_latents`, :meth:`quantize_latents`,
        :meth:`embed_codes`, :meth:`decode_latents`) is available: a VQ codebook searched by nearest
        neighbour. The attacks that choose visual words need it."""
        return False

    def encode_latents(self, images: torch.Tensor) -> torch.Tensor:
        """The encoder's latents before quantization, N×d×h×w (no gradient)."""
        raise NotImplementedError(f'{type(self).__name__} has no VQ codebook')

    def quantize_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """The index of the codebook entry nearest to each latent vector, N×h×w (long)."""
        raise NotImplementedError(f'{type(self).__name__} has no VQ codebook')

    def embed_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """The codebook entries of ``codes`` (N×h×w) as quantized latents z_q, N×d×h×w."""
        raise NotImplementedError(f'{type(self).__name__} has no VQ codebook')

    def decode_latents(self, z_q: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """Quantized latents -> images N×3×H×W in [0, 1] cropped to ``size``; differentiable with
        respect to ``z_q`` where gradients are enabled."""
        raise NotImplementedError(f'{type(self).__name__} has no VQ codebook')

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.discretize(images)

    def __deepcopy__(self, memo: dict) -> 'BaseDiscretizer':
        # Frozen and stateless from the trainer's view: copies would only duplicate weights.
        return self

    def _check_images(self, images: torch.Tensor) -> None:
        if not isinstance(images, torch.Tensor):
            raise TypeError(f'{type(self).__name__} expects a tensor, but got {type(images)}')
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f'{type(self).__name__} expects RGB images of shape N×3×H×W, '
                             f'but got shape {tuple(images.shape)}')
        if not images.is_floating_point():
            raise TypeError(f'{type(self).__name__} expects floating-point images in [0, 1], '
                            f'but got dtype {images.dtype}')

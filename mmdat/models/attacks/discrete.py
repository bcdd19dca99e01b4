"""Attacks that see the discretizer: they choose visual words, or take each step through Q.

The official DAT step differentiates the loss at x̂ and treats Q as the identity; Q then maps
x̂ + δ to a different but equally easy reconstruction (the attack's own share of the loss is near
zero). These attacks put Q in the loop:

- :class:`CodeFlipAttack` swaps the visual words with the best first-order gain (HotFlip on codes);
- :class:`LatentPGDAttack` takes PGD steps on the encoder's latents before quantization, through the
  decoder's real gradient and a straight-through quantizer;
- :class:`QuantizedPGDAttack` takes pixel PGD steps, each at Q(x + δ) (identity backward).

The first two need the code-space API of a VQ discretizer (``supports_code_space``); all three need
their own gradient passes, so ``train_on='fused'`` cannot run them. Their budgets are in the
docstrings; "a pass" below is one forward and backward of the model's full training loss.
"""
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmdat.registry import ATTACKS
from .perturbation import (AttackResult, BaseAttack, L2Attack, LossFn, check_budget, check_choice,
                           input_gradient, per_sample_norm)

#: Elements of one block of scores (positions × codebook entries): 16 MiB in fp32.
SCORE_BLOCK_ELEMENTS = 2**22
CODE_SPACE_ATTACKS = ('CodeFlipAttack', 'LatentPGDAttack')


def require_code_space(attack: BaseAttack, discretizer: Any) -> None:
    """Refuse, in one line, a discretizer without a VQ codebook for a code-space attack."""
    if not getattr(discretizer, 'supports_code_space', False):
        raise ValueError(
            f'{type(attack).__name__} chooses visual words and needs a VQ discretizer with a codebook '
            f'(mmdat.VQGANDiscretizer with a vq quantizer), but got {discretizer!r}; '
            f"{' and '.join(CODE_SPACE_ATTACKS)} need a codebook, the pixel attacks do not")


def position_mask(valid: Tensor, factor: int) -> Tensor:
    """Code positions whose f×f patch holds a valid pixel: (N, h·w) bool, h = ceil(H / f)."""
    pooled = F.max_pool2d(valid.float(), factor, factor, ceil_mode=True)
    return pooled.flatten(1) > 0


class CodeSpaceAttack(BaseAttack):
    """Shared by the attacks that decode x_adv from chosen visual words.

    They start at the words of x (no change gives x_adv = x̂ = Q(x)), so ``perturb_at`` does not apply,
    and they return x̂, x_adv and both code maps in the :class:`AttackResult`.
    """

    fused_compatible = False
    code_space = True

    def __init__(self, steps: int = 1, random_start_prob: float = 0.0) -> None:
        super().__init__(steps=steps, random_start_prob=random_start_prob)
        self.discretizer: Any = None

    def bind_discretizer(self, discretizer: Any) -> None:
        require_code_space(self, discretizer)
        self.discretizer = discretizer

    def _discretizer(self) -> Any:
        if self.discretizer is None:
            raise RuntimeError(f'{type(self).__name__} needs the discretizer: bind_discretizer(Q) '
                               '(the DAT preprocessor does this)')
        return self.discretizer

    def _decode(self, z_q: Tensor, size: Tuple[int, int], reference: Tensor, valid: Tensor) -> Tensor:
        """Decoded images, ``reference`` outside ``valid`` (padding untouched)."""
        return torch.where(valid, self._discretizer().decode_latents(z_q, size).to(reference.dtype),
                           reference)

    def _result(self, x: Tensor, valid: Tensor, x_hat: Tensor, codes_x: Tensor, codes_adv: Tensor,
                start_loss: Tensor, finite: Tensor) -> AttackResult:
        quantizer = self._discretizer()
        with torch.no_grad():
            x_adv = self._decode(quantizer.embed_codes(codes_adv), x.shape[-2:], x, valid)
        return AttackResult(delta=((x_adv - x_hat) * valid).detach(), start_loss=start_loss,
                            finite=finite, x_adv=x_adv.detach(), codes_adv=codes_adv, x_hat=x_hat,
                            codes_x=codes_x)

    def _start(self, x: Tensor, valid: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """(latents of x, codes of x, x̂) without gradients."""
        quantizer = self._discretizer()
        latents = quantizer.encode_latents(x)
        codes = quantizer.quantize_latents(latents)
        with torch.no_grad():
            x_hat = self._decode(quantizer.embed_codes(codes), x.shape[-2:], x, valid)
        return latents, codes, x_hat

    def _null_result(self, x: Tensor, valid: Tensor, loss_fn: LossFn) -> AttackResult:
        _, codes, x_hat = self._start(x, valid)
        with torch.no_grad():
            start_loss = loss_fn(x_hat).detach().float()
        finite = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        return AttackResult(delta=torch.zeros_like(x), start_loss=start_loss, finite=finite,
                            x_adv=x_hat, codes_adv=codes, x_hat=x_hat, codes_x=codes)


@ATTACKS.register_module()
class CodeFlipAttack(CodeSpaceAttack):
    """HotFlip on visual words: swap the codes whose swap raises the loss most to first order.

    The full loss is back-propagated through the decoder to the quantized latents z_q of x. Every swap
    of position p to codebook entry e_j is scored by its first-order gain (e_j − z_q[p]) · ∇z_q[p], and
    each image's best positions are swapped to their best entries; x_adv = decode(z_q'). The scores are
    computed in blocks of positions (at most ``SCORE_BLOCK_ELEMENTS`` scores at once), so memory stays
    bounded at any codebook size.

    Budget: ``fraction`` of each image's valid code positions (those whose patch holds a valid pixel)
    change, exactly ``round(fraction · positions)`` of them; padding never changes. Cost per step: one
    differentiable decode, a pass of the model, and 2·P·K·d multiply-adds of scoring (P positions, K
    codes of dimension d; 2·P·k·d with ``neighbours=k``); then one decode of x_adv. The step itself is
    not a pixel norm ball: ‖x_adv − x̂‖ is whatever the swapped words decode to.

    Args:
        fraction (float): share of each image's valid positions swapped in all. Defaults to 0.05.
        steps (int): rounds; each swaps its share of the budget among the positions not swapped yet,
            scored at the current words. Defaults to 1.
        neighbours (int, optional): swap a code only to one of its ``neighbours`` nearest codebook
            entries (keeps the image natural); None allows any entry. Defaults to None.
        selection (str): ``'gain'`` (first-order best) or ``'random'``: as many positions, chosen at
            random, each to a random allowed entry (the control of the same size; no gradient).
            Defaults to ``'gain'``.
    """

    def __init__(self, fraction: float = 0.05, steps: int = 1, neighbours: Optional[int] = None,
                 selection: str = 'gain') -> None:
        super().__init__(steps=steps)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f'fraction must be in [0, 1], but got {fraction}')
        if neighbours is not None and neighbours < 1:
            raise ValueError(f'neighbours must be a positive int or None, but got {neighbours}')
        check_choice('selection', selection, ('gain', 'random'))
        self.fraction = fraction
        self.neighbours = neighbours
        self.selection = selection
        self._neighbour_table: Dict[Tuple[int, str], Tensor] = {}

    def is_null(self, eps_scale: float = 1.0) -> bool:
        return self.fraction * eps_scale == 0

    def neighbour_table(self, codebook: Tensor) -> Tensor:
        """K×k indices of each codebook entry's k nearest other entries (cached per codebook)."""
        key = (codebook.data_ptr(), str(codebook.device))
        if key not in self._neighbour_table:
            codebook = codebook.detach().float()
            k = min(self.neighbours, codebook.shape[0] - 1)
            rows = max(1, SCORE_BLOCK_ELEMENTS // codebook.shape[0])
            tables = []
            for block in codebook.split(rows):
                distances = torch.cdist(block, codebook)
                tables.append(distances.topk(k + 1, dim=1, largest=False).indices)
            table = torch.cat(tables)
            # drop each entry itself (it is its own nearest; with duplicates, any one copy)
            own = torch.arange(codebook.shape[0], device=codebook.device).unsqueeze(1)
            not_own = table != own
            first_own = (~not_own).float().argmax(dim=1, keepdim=True)
            has_own = (~not_own).any(dim=1, keepdim=True)
            drop = torch.where(has_own, first_own, torch.full_like(first_own, k))
            keep = torch.ones_like(table, dtype=torch.bool).scatter_(1, drop, False)
            self._neighbour_table[key] = table[keep].view(codebook.shape[0], k)
        return self._neighbour_table[key]

    def best_swaps(self, grad: Tensor, codes: Tensor, codebook: Tensor,
                   generator: torch.Generator) -> Tuple[Tensor, Tensor]:
        """Each position's best swap: (gain, entry), both (N, h·w), from ∂loss/∂z_q (N×d×h×w).
        With ``selection='random'``: a random score and a random allowed entry."""
        batch, dim = grad.shape[:2]
        grads = grad.permute(0, 2, 3, 1).reshape(-1, dim)
        flat_codes = codes.reshape(-1)
        num_codes = codebook.shape[0]
        if self.selection == 'random':
            gain = torch.rand(flat_codes.shape, generator=generator, device=generator.device).to(
                grads.device)
            if self.neighbours is None:  # uniform over the K − 1 other entries
                offset = torch.randint(1, num_codes, flat_codes.shape, generator=generator,
                                       device=generator.device).to(grads.device)
                entry = (flat_codes + offset) % num_codes
            else:
                table = self.neighbour_table(codebook)
                pick = torch.randint(0, table.shape[1], flat_codes.shape, generator=generator,
                                     device=generator.device).to(grads.device)
                entry = table[flat_codes, pick]
            return gain.view(batch, -1), entry.view(batch, -1)
        codebook = codebook.detach().float()
        gain = torch.empty(flat_codes.shape, device=grads.device)
        entry = torch.empty_like(flat_codes)
        width = num_codes if self.neighbours is None else self.neighbours * dim
        rows = max(1, SCORE_BLOCK_ELEMENTS // width)
        table = None if self.neighbours is None else self.neighbour_table(codebook)
        for start in range(0, grads.shape[0], rows):
            block = slice(start, start + rows)
            g, current = grads[block], flat_codes[block]
            base = (codebook[current] * g).sum(dim=1, keepdim=True)  # z_q[p] · ∇z_q[p]
            if table is None:
                scores = g @ codebook.t() - base  # (e_j − z_q[p]) · ∇z_q[p]
                scores.scatter_(1, current.unsqueeze(1), float('-inf'))  # a swap changes the code
                gain[block], entry[block] = scores.max(dim=1)
            else:
                candidates = table[current]  # P×k
                scores = torch.einsum('pkd,pd->pk', codebook[candidates], g) - base
                best = scores.argmax(dim=1, keepdim=True)
                gain[block] = scores.gather(1, best).squeeze(1)
                entry[block] = candidates.gather(1, best).squeeze(1)
        return gain.view(batch, -1), entry.view(batch, -1)

    def run(self, center: Tensor, loss_fn: LossFn, valid: Tensor, generator: torch.Generator,
            eps_scale: float = 1.0, loss_scale: float = 1.0) -> AttackResult:
        """Swap visual words of ``center`` (x, RGB in [0, 1]); see the class docstring."""
        if self.is_null(eps_scale):
            return self._null_result(center, valid, loss_fn)
        positions = position_mask(valid, self._discretizer().downsample_factor)  # N × h·w
        budget = torch.round(positions.sum(dim=1).float() * min(1.0, self.fraction * eps_scale)).long()
        return self.swap(center, loss_fn, valid, generator, budget, loss_scale)

    def swap(self, center: Tensor, loss_fn: LossFn, valid: Tensor, generator: torch.Generator,
             budget: Tensor, loss_scale: float = 1.0) -> AttackResult:
        """Swap exactly ``budget[i]`` valid positions of image i (a long tensor (N,)), over
        ``steps`` rounds; ``fraction`` is not used. The same-size random control of another attack
        is ``CodeFlipAttack(selection='random').swap(...)`` with that attack's counts."""
        quantizer = self._discretizer()
        _, codes_x, x_hat = self._start(center, valid)
        size = center.shape[-2:]
        positions = position_mask(valid, quantizer.downsample_factor)
        budget = torch.minimum(budget.to(positions.device), positions.sum(dim=1))
        swapped = torch.zeros_like(positions)
        codes = codes_x.clone()
        finite = torch.ones(center.shape[0], dtype=torch.bool, device=center.device)
        start_loss = None
        for step in range(self.steps):
            z_q = quantizer.embed_codes(codes)
            if self.selection == 'gain':
                loss, grad = input_gradient(
                    loss_fn, z_q, loss_scale, lambda latent: self._decode(latent, size, center, valid))
                finite &= torch.isfinite(grad).flatten(1).all(dim=1)
                grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
            else:
                grad = torch.zeros_like(z_q)
                if start_loss is None:
                    with torch.no_grad():
                        loss = loss_fn(x_hat).detach().float()
            start_loss = loss if start_loss is None else start_loss
            gain, entry = self.best_swaps(grad, codes, quantizer.codebook, generator)
            # this round's share of each image's budget, among valid positions not swapped yet
            count = (budget * (step + 1)) // self.steps - (budget * step) // self.steps
            count = torch.where(finite, count, torch.zeros_like(count))
            gain = gain.masked_fill(~positions | swapped, float('-inf'))
            order = gain.argsort(dim=1, descending=True)
            rank = torch.empty_like(order).scatter_(
                1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
            chosen = rank < count.unsqueeze(1)
            flat = codes.view(codes.shape[0], -1)
            codes = torch.where(chosen, entry, flat).view_as(codes)
            swapped |= chosen
        return self._result(center, valid, x_hat, codes_x, codes, start_loss, finite)


@ATTACKS.register_module()
class LatentPGDAttack(CodeSpaceAttack):
    """PGD on the encoder's latents z before quantization: z' = z + η, x_adv = decode(quantize(z')).

    Each step decodes quantize(z + η) with a straight-through quantizer (forward: the nearest codebook
    entries; backward: identity) and the decoder's real gradient, and moves η along it.

    Budget (relative to each image's own latents over its valid positions): ``norm='l2'``:
    ‖η‖₂ ≤ eps · ‖z‖₂; ``norm='linf'``: |η| ≤ eps · rms(z) per value. Cost per step: one nearest-code
    search, one differentiable decode and a pass of the model; then one decode of x_adv.

    Args:
        eps (float): radius in the units above. Defaults to 0.5.
        step_size (float): length of each step in the same units. Defaults to 0.25.
        steps (int): PGD steps. Defaults to 3.
        norm (str): ``'l2'`` or ``'linf'``. Defaults to ``'l2'``.
        random_start_prob (float): probability, drawn once per batch, of starting from a random point
            on the ball's surface (L2) or in the box (L∞). Defaults to 0.
        selection (str): ``'gradient'`` (PGD) or ``'random'``: a random point on the ball's surface (L2)
            or a corner of the box (L∞), no gradient: the control of the same size. Defaults to
            ``'gradient'``.
    """

    def __init__(self, eps: float = 0.5, step_size: float = 0.25, steps: int = 3, norm: str = 'l2',
                 random_start_prob: float = 0.0, selection: str = 'gradient') -> None:
        super().__init__(steps=steps, random_start_prob=random_start_prob)
        check_budget(eps, step_size)
        check_choice('norm', norm, ('l2', 'linf'))
        check_choice('selection', selection, ('gradient', 'random'))
        self.eps = eps
        self.step_size = step_size
        self.norm = norm
        self.selection = selection

    def is_null(self, eps_scale: float = 1.0) -> bool:
        return self.eps * eps_scale == 0

    def _scale(self, latents: Tensor, mask: Tensor) -> Tensor:
        """Per image: ‖z‖₂ (L2) or rms(z) (L∞) over the valid positions, (N, 1, 1, 1)."""
        norm = per_sample_norm(latents * mask)
        if self.norm == 'l2':
            return norm
        count = (mask.flatten(1).sum(dim=1) * latents.shape[1]).clamp_min(1).view(-1, 1, 1, 1)
        return norm / count.sqrt()

    def _project(self, eta: Tensor, radius: Tensor, mask: Tensor) -> Tensor:
        eta = eta * mask
        if self.norm == 'l2':
            return eta * (radius / per_sample_norm(eta).clamp_min(1e-12)).clamp(max=1.0)
        return torch.maximum(torch.minimum(eta, radius), -radius)

    def run(self, center: Tensor, loss_fn: LossFn, valid: Tensor, generator: torch.Generator,
            eps_scale: float = 1.0, loss_scale: float = 1.0) -> AttackResult:
        """PGD on the latents of ``center`` (x, RGB in [0, 1]); see the class docstring."""
        if self.is_null(eps_scale):
            return self._null_result(center, valid, loss_fn)
        quantizer = self._discretizer()
        latents, codes_x, x_hat = self._start(center, valid)
        size = center.shape[-2:]
        mask = position_mask(valid, quantizer.downsample_factor).view(
            latents.shape[0], 1, *latents.shape[-2:]).float()
        scale = self._scale(latents, mask)
        radius, step_length = scale * self.eps * eps_scale, scale * self.step_size * eps_scale
        eta = torch.zeros_like(latents)
        draw = torch.rand((), generator=generator, device=generator.device).item()
        if self.selection == 'random' or draw < self.random_start_prob:
            noise = torch.randn(latents.shape, generator=generator, device=generator.device).to(
                latents.device) * mask
            if self.norm == 'l2':
                eta = noise * radius / per_sample_norm(noise).clamp_min(1e-12)
            else:
                eta = noise.sign() * radius if self.selection == 'random' else \
                    (torch.rand_like(noise) * 2 - 1) * radius * mask
        finite = torch.ones(center.shape[0], dtype=torch.bool, device=center.device)
        if self.selection == 'random':
            with torch.no_grad():
                start_loss = loss_fn(x_hat).detach().float()
            codes = quantizer.quantize_latents(latents + eta)
            return self._result(center, valid, x_hat, codes_x, codes, start_loss, finite)

        def images_of(shifted: Tensor) -> Tensor:
            nearest = quantizer.embed_codes(quantizer.quantize_latents(shifted.detach()))
            return self._decode(shifted + (nearest - shifted).detach(), size, center, valid)

        start_loss = None
        for _ in range(self.steps):
            loss, grad = input_gradient(loss_fn, latents + eta, loss_scale, images_of)
            start_loss = loss if start_loss is None else start_loss
            sample_finite = torch.isfinite(grad).flatten(1).all(dim=1)
            finite &= sample_finite
            grad = torch.where(sample_finite.view(-1, 1, 1, 1), grad, torch.zeros_like(grad)) * mask
            if self.norm == 'l2':
                move = step_length * grad / per_sample_norm(grad).clamp_min(1e-12)
            else:
                move = step_length * grad.sign()
            eta = self._project(eta + move, radius, mask)
        eta = eta * finite.view(-1, 1, 1, 1)
        codes = quantizer.quantize_latents(latents + eta)
        return self._result(center, valid, x_hat, codes_x, codes, start_loss, finite)


@ATTACKS.register_module()
class QuantizedPGDAttack(L2Attack):
    """Pixel L2 PGD with Q in the loop: each step's loss is taken at Q(x + δ), re-quantized every step
    (forward through Q, identity backward), so the steps follow the loss of the images the model will
    see, not of x̂ + δ.

    Budget: the L2 ball of :class:`L2Attack` (``eps`` per image in [0, 1] RGB, or per pixel RMS with
    ``eps_unit='pixel_rms'``); x_adv = Q(center + δ). With ``perturb_at='x'`` the first step is taken at
    Q(x) = x̂ and δ = 0 gives x_adv = x̂ (recommended); with ``'x_hat'`` (the official centre) it is taken
    at Q(x̂), whose words differ from x̂'s. Cost per step: one pass of Q (encode and decode, no
    gradient) and a pass of the model. Works with any discretizer.

    Args:
        eps (float): radius of the L2 ball. Defaults to 2.0.
        step_size (float): L2 length of each step. Defaults to 1.0.
        steps (int): PGD steps. Defaults to 3.
        random_start_prob (float): probability of a random start on the ball. Defaults to 0.
        eps_unit (str): ``'image'`` or ``'pixel_rms'`` (see :class:`L2Attack`). Defaults to ``'image'``.
    """

    fused_compatible = False

    def __init__(self, eps: float = 2.0, step_size: float = 1.0, steps: int = 3,
                 random_start_prob: float = 0.0, eps_unit: str = 'image') -> None:
        super().__init__(eps=eps, step_size=step_size, steps=steps,
                         random_start_prob=random_start_prob, eps_unit=eps_unit)
        self.discretizer: Any = None

    def bind_discretizer(self, discretizer: Any) -> None:
        self.discretizer = discretizer

    def run(self, center: Tensor, loss_fn: LossFn, valid: Tensor, generator: torch.Generator,
            eps_scale: float = 1.0, loss_scale: float = 1.0) -> AttackResult:
        if self.discretizer is None:
            raise RuntimeError('QuantizedPGDAttack needs the discretizer: bind_discretizer(Q) '
                               '(the DAT preprocessor does this)')

        def loss_through_q(images: Tensor) -> Tensor:
            quantized = torch.where(valid, self.discretizer.discretize(images.detach()), images)
            return loss_fn(images + (quantized - images).detach())

        return super().run(center, loss_through_q, valid, generator, eps_scale, loss_scale)

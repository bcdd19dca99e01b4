"""DAT's inner maximisation on images in [0, 1] RGB: small attack classes on plain tensors.

No mmdet or mmpretrain here. An attack gets the start image, a loss callable and a mask of the valid
(unpadded) pixels, and returns the perturbation δ. Gradients are taken with ``torch.autograd.grad`` with
respect to the image only, so parameters' ``.grad`` is never touched.
"""
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from mmdat.registry import ATTACKS

LossFn = Callable[[Tensor], Tensor]  # images (N, 3, H, W) in [0, 1] -> scalar loss


def check_budget(eps: float, step_size: float) -> None:
    """Refuse a negative budget or step."""
    if eps < 0 or step_size < 0:
        raise ValueError(f'eps and step_size must be >= 0, but got eps: {eps}, step_size: {step_size}')


def check_choice(name: str, value: Any, choices: tuple) -> None:
    """Refuse an option outside ``choices``: ``<name> must be 'a' or 'b', but got ...``."""
    if value not in choices:
        raise ValueError(f"{name} must be {' or '.join(map(repr, choices))}, but got {value!r}")


def input_gradient(loss_fn: LossFn, point: Tensor, loss_scale: float = 1.0,
                   images_of: Callable[[Tensor], Tensor] = lambda point: point) -> tuple[Tensor, Tensor]:
    """(loss, ∂loss/∂point) of ``loss_fn(images_of(point))``, the loss detached and the gradient in fp32.
    The loss is multiplied by the AMP ``loss_scale`` before differentiation and the gradient divided by
    it, so fp16 gradients do not underflow; an unused input gets a zero gradient. Only ``point`` is
    differentiated: no parameter's ``.grad`` is written."""
    point = point.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(images_of(point))
        (grad, ) = torch.autograd.grad(loss * loss_scale, point, allow_unused=True)
    grad = torch.zeros_like(point) if grad is None else grad.float() / loss_scale
    return loss.detach().float(), grad


def per_sample_norm(t: Tensor) -> Tensor:
    """L2 norm of each sample, shaped (N, 1, 1, 1) for broadcasting."""
    return t.flatten(1).norm(dim=1).view(-1, 1, 1, 1)


@dataclass
class AttackResult:
    """What an attack returns.

    Attributes:
        delta: the perturbation, zero outside the valid region and for samples with non-finite gradients.
        start_loss: the loss at the attack's start point (detached).
        finite: per-sample flag, False where a gradient was not finite (those samples get δ = 0).
        x_adv: set by the attacks that decode the adversarial image themselves (code space): x_adv, in
            place of Q(center + δ). None for pixel attacks.
        codes_adv: the visual words of ``x_adv`` where the attack chose them (N×h×w), else None.
        x_hat: Q(x) as a code-space attack decoded it (its start point), else None.
        codes_x: the visual words of x where a code-space attack computed them, else None.
    """
    delta: Tensor
    start_loss: Tensor
    finite: Tensor
    x_adv: Optional[Tensor] = None
    codes_adv: Optional[Tensor] = None
    x_hat: Optional[Tensor] = None
    codes_x: Optional[Tensor] = None


class BaseAttack:
    """Iterated gradient ascent with an optional random start, shared by the DAT attacks.

    Args:
        steps (int): gradient steps. Defaults to 1 (the official DAT recipe).
        random_start_prob (float): probability, drawn once per batch, of starting from a random point of
            the perturbation set. Defaults to 0.
    """

    #: whether ``train_on='fused'`` can run it (one step along the clean backward's input gradient)
    fused_compatible = True
    #: whether it works on visual words (x_adv decoded from chosen codes; starts at x, not x̂)
    code_space = False

    def __init__(self, steps: int = 1, random_start_prob: float = 0.0) -> None:
        if steps < 1:
            raise ValueError(f'steps must be >= 1, but got steps: {steps}')
        if not 0.0 <= random_start_prob <= 1.0:
            raise ValueError(f'random_start_prob must be in [0, 1], but got {random_start_prob}')
        self.steps = steps
        self.random_start_prob = random_start_prob

    def bind_discretizer(self, discretizer: Any) -> None:
        """Give the attack the discretizer Q of the DAT step; pixel attacks do not need it."""

    def radius(self, valid: Tensor, eps_scale: float) -> Optional[Tensor]:
        """Per-sample radius of the perturbation set, or None when it is unbounded."""
        return None

    def is_null(self, eps_scale: float = 1.0) -> bool:
        """Whether δ is zero whatever the gradient (strength zero: eps 0, or a warm-up at 0). The DAT
        step then skips the input gradient, which changes no result."""
        return False

    def initial_point(self, center: Tensor, valid: Tensor, generator: torch.Generator,
                      eps_scale: float = 1.0) -> Tensor:
        """The start point: ``center``, or with probability ``random_start_prob`` a random point on the
        sphere of the perturbation set (bounded attacks only)."""
        radius = self.radius(valid, eps_scale)
        draw = torch.rand((), generator=generator, device=generator.device).item()
        if radius is None or draw >= self.random_start_prob:
            return center.detach().clone()
        noise = torch.randn(center.shape, generator=generator, device=generator.device,
                            dtype=center.dtype).to(center.device) * valid
        noise = noise * radius / per_sample_norm(noise).clamp_min(1e-12)
        return (center + noise).clamp(0, 1).detach()

    def update(self, point: Tensor, grad: Tensor, center: Tensor, valid: Tensor,
               eps_scale: float = 1.0) -> Tensor:
        """One ascent step from ``point`` along ``grad``, kept in the perturbation set and in [0, 1]."""
        raise NotImplementedError

    def step(self, point: Tensor, grad: Tensor, center: Tensor, valid: Tensor,
             eps_scale: float = 1.0) -> tuple[Tensor, Tensor]:
        """One step along a gradient computed elsewhere (here, or the clean backward of
        ``train_on='fused'``): a sample whose gradient is not finite does not move and is flagged,
        padding gets no gradient. Returns the next point and the per-sample finite flags."""
        finite = torch.isfinite(grad).flatten(1).all(dim=1)
        grad = torch.where(finite.view(-1, 1, 1, 1), grad, torch.zeros_like(grad)) * valid
        return self.update(point, grad, center, valid, eps_scale), finite

    @staticmethod
    def perturbation(point: Tensor, center: Tensor, valid: Tensor, finite: Tensor) -> Tensor:
        """δ = point − center, zero outside ``valid`` and for the samples flagged not finite."""
        return ((point - center) * valid * finite.view(-1, 1, 1, 1)).detach()

    def run(self, center: Tensor, loss_fn: LossFn, valid: Tensor, generator: torch.Generator,
            eps_scale: float = 1.0, loss_scale: float = 1.0) -> AttackResult:
        """Attack ``loss_fn`` around ``center``.

        Args:
            center (Tensor): start images (N, 3, H, W) in [0, 1].
            loss_fn (callable): images -> scalar loss (the model's full training loss).
            valid (Tensor): (N, 1, H, W) bool mask of unpadded pixels; δ is zero elsewhere.
            generator (torch.Generator): source of the random start.
            eps_scale (float): multiplies the attack strength (warm-up ramps).
            loss_scale (float): the AMP loss scale; the loss is multiplied by it before differentiation
                and the gradient divided by it in fp32, so fp16 gradients do not underflow.
        """
        finite = torch.ones(center.shape[0], dtype=torch.bool, device=center.device)
        if self.is_null(eps_scale):  # the forward still runs: its loss is logged, BN may update
            with torch.no_grad():
                start_loss = loss_fn(center).detach().float()
            return AttackResult(delta=torch.zeros_like(center), start_loss=start_loss, finite=finite)
        point = self.initial_point(center, valid, generator, eps_scale)
        start_loss = None
        for _ in range(self.steps):
            loss, grad = input_gradient(loss_fn, point, loss_scale)
            start_loss = loss if start_loss is None else start_loss
            point, sample_finite = self.step(point.detach(), grad, center, valid, eps_scale)
            finite &= sample_finite
        delta = self.perturbation(point, center, valid, finite)
        return AttackResult(delta=delta, start_loss=start_loss, finite=finite)


@ATTACKS.register_module()
class L2Attack(BaseAttack):
    """The official DAT attack: normalised L2 steps, projection onto the eps-ball, clamp to [0, 1].

    Args:
        eps (float): radius of the L2 ball. Defaults to 0.1.
        step_size (float): L2 length of each step. Defaults to 0.1.
        steps (int): number of steps. Defaults to 1.
        random_start_prob (float): probability of a random start on the ball. Defaults to 0.8.
        eps_unit (str): ``'image'``: ``eps`` and ``step_size`` are per-image L2 norms over all valid
            values in [0, 1] RGB (the official setting, tied to the resolution). ``'pixel_rms'``: they are
            root-mean-square values per pixel and channel, i.e. multiplied by sqrt(3·h·w) of each image's
            valid region, so one config transfers across resolutions. Defaults to ``'image'``.
    """

    def __init__(self, eps: float = 0.1, step_size: float = 0.1, steps: int = 1,
                 random_start_prob: float = 0.8, eps_unit: str = 'image') -> None:
        super().__init__(steps=steps, random_start_prob=random_start_prob)
        check_budget(eps, step_size)
        check_choice('eps_unit', eps_unit, ('image', 'pixel_rms'))
        self.eps = eps
        self.step_size = step_size
        self.eps_unit = eps_unit

    def _per_sample(self, value: float, valid: Tensor, eps_scale: float) -> Tensor:
        value = value * eps_scale
        if self.eps_unit == 'image':
            return torch.full((valid.shape[0], 1, 1, 1), value, device=valid.device)
        num_values = valid.flatten(1).sum(dim=1).float() * 3
        return (value * num_values.sqrt()).view(-1, 1, 1, 1)

    def radius(self, valid: Tensor, eps_scale: float) -> Tensor:
        return self._per_sample(self.eps, valid, eps_scale)

    def is_null(self, eps_scale: float = 1.0) -> bool:
        return self.eps * eps_scale == 0

    def update(self, point: Tensor, grad: Tensor, center: Tensor, valid: Tensor,
               eps_scale: float = 1.0) -> Tensor:
        step = self._per_sample(self.step_size, valid, eps_scale)
        point = point + step * grad / per_sample_norm(grad).clamp_min(1e-12)
        offset = point - center
        radius = self.radius(valid, eps_scale)
        offset = offset * (radius / per_sample_norm(offset).clamp_min(1e-12)).clamp(max=1.0)
        return (center + offset).clamp(0, 1)


@ATTACKS.register_module()
class GradAttack(BaseAttack):
    """The paper's Eq. 5 read literally: δ = α·∇L, unbounded, clamped to [0, 1].

    The gradient is that of the model's summed training loss. With mean-reduced losses it is tiny
    (‖δ‖ ≈ 1e-5 for α = 0.1 on a 64² crop), so this attack changes almost no visual words unless α is
    raised; watch the logged ``dat/delta_norm`` and ``dat/code_flip``.

    Args:
        alpha (float): step multiplier α. Defaults to 0.1.
        steps (int): number of steps. Defaults to 1.
    """

    def __init__(self, alpha: float = 0.1, steps: int = 1) -> None:
        super().__init__(steps=steps, random_start_prob=0.0)
        self.alpha = alpha

    def is_null(self, eps_scale: float = 1.0) -> bool:
        return self.alpha * eps_scale == 0

    def update(self, point: Tensor, grad: Tensor, center: Tensor, valid: Tensor,
               eps_scale: float = 1.0) -> Tensor:
        return (point + self.alpha * eps_scale * grad).clamp(0, 1)


@ATTACKS.register_module()
class LinfAttack(BaseAttack):
    """Sign-gradient steps in an L∞ box of half-width ``eps`` (FGSM with one step of ``eps``, PGD
    with several and a random start), clamped to [0, 1]. Used by the adversarial evaluation.

    Args:
        eps (float): half-width of the box, per value in [0, 1] (e.g. 4 / 255). Defaults to 4 / 255.
        step_size (float): L∞ length of each step. Defaults to 1 / 255.
        steps (int): number of steps. Defaults to 1.
        random_start_prob (float): probability of a uniform random start in the box. Defaults to 0.
    """

    def __init__(self, eps: float = 4 / 255, step_size: float = 1 / 255, steps: int = 1,
                 random_start_prob: float = 0.0) -> None:
        super().__init__(steps=steps, random_start_prob=random_start_prob)
        check_budget(eps, step_size)
        self.eps = eps
        self.step_size = step_size

    def initial_point(self, center: Tensor, valid: Tensor, generator: torch.Generator,
                      eps_scale: float = 1.0) -> Tensor:
        draw = torch.rand((), generator=generator, device=generator.device).item()
        if draw >= self.random_start_prob:
            return center.detach().clone()
        noise = torch.rand(center.shape, generator=generator, device=generator.device,
                           dtype=center.dtype).to(center.device) * 2 - 1
        return (center + noise * self.eps * eps_scale * valid).clamp(0, 1).detach()

    def is_null(self, eps_scale: float = 1.0) -> bool:
        return self.eps * eps_scale == 0

    def update(self, point: Tensor, grad: Tensor, center: Tensor, valid: Tensor,
               eps_scale: float = 1.0) -> Tensor:
        eps = self.eps * eps_scale
        point = point + self.step_size * eps_scale * grad.sign()
        return (center + (point - center).clamp(-eps, eps)).clamp(0, 1)


#: the attack names of mmdat before 2026-12-07, for the error message of an old config
_OLD_NAMES = {'l2': 'L2Attack', 'linf': 'LinfAttack', 'grad': 'GradAttack'}


def build_attack(cfg: dict) -> BaseAttack:
    """Build an attack from ``dict(type=<class name>, **kwargs)``: ``'L2Attack'`` (the default),
    ``'LinfAttack'``, ``'GradAttack'``, or an attack that sees the discretizer
    (``'CodeFlipAttack'``, ``'LatentPGDAttack'``, ``'QuantizedPGDAttack'``). The name is looked up in
    ``ATTACKS`` itself, whatever the config's default scope.

    Raises:
        KeyError: for an unknown type; the message lists the registered names.
    """
    kwargs = dict(cfg)
    name = kwargs.pop('type', 'L2Attack')
    attack_class = ATTACKS.get(name) if isinstance(name, str) else name
    if attack_class is None:
        renamed = f' (renamed {_OLD_NAMES[name]!r})' if name in _OLD_NAMES else ''
        raise KeyError(f'unknown DAT attack type {name!r}{renamed}; registered attacks: '
                       f'{", ".join(sorted(ATTACKS.module_dict))}')
    return attack_class(**kwargs)

"""The DAT step, shared by the detection and classification data preprocessors.

After the stock preprocessing (run exactly once), a training batch is mapped back to RGB in [0, 1],
discretized, attacked on the model's full training loss, discretized again and re-normalised; padding
is kept bit-exact. Validation and test batches are the stock preprocessor's output, unchanged.
"""
import copy
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.dist import get_rank
from mmengine.model import BaseAveragedModel
from torch import Tensor

from mmdat.registry import MODELS
from ..attacks import AttackResult, build_attack, per_sample_norm
from ..full_loss import full_loss
from ..pixel_domain import PixelDomain

TRAIN_ON = ('adv', 'clean+adv', 'separate', 'fused')
PERTURB_AT = ('x_hat', 'x')
BN_MODES = ('train', 'freeze', 'eval')
MISSING_HOOK = ("{name} is asked for a training batch but no model is bound to it. Add the hook to "
                "the config: custom_hooks = [dict(type='mmdat.DATHook')] (keep any hooks of the base "
                'config in that list).')
PLAN_USED = ('{name} is asked for a second training batch within one iteration, but DATHook plans '
             'one DAT step per iteration and this one was already used. Call the preprocessor once '
             'per training iteration; a further pass that needs no DAT step takes training=False '
             '(the stock preprocessing).')


def _rng_states(devices: List[torch.device]) -> List[Tensor]:
    """The global CPU generator state, then each listed CUDA device's."""
    return [torch.get_rng_state()] + [torch.cuda.get_rng_state(d) for d in devices]


def _set_rng_states(states: List[Tensor], devices: List[torch.device]) -> None:
    torch.set_rng_state(states[0])
    for state, device in zip(states[1:], devices):
        torch.cuda.set_rng_state(state, device)


@dataclass
class DATIterationPlan:
    """What the DAT hook decided for the coming training iteration (identical on every rank).

    Attributes:
        active: run the DAT step; if False the batch is the stock preprocessor's output.
        eps_scale: multiplies the attack strength (warm-up ramp).
        seed: seeds this iteration's random start; the rank is added on top.
        collect_stats: also compute the statistics that cost an extra pass (loss at x_adv, code flips).
        num_visuals: keep this many samples of x, x̂ and x_adv for the visualizer (0: none).
    """
    active: bool = True
    eps_scale: float = 1.0
    seed: int = 0
    collect_stats: bool = True
    num_visuals: int = 0


@dataclass
class DATReport:
    """What the DAT step measured, for the hook to log and draw."""
    stats: Dict[str, float] = field(default_factory=dict)
    visuals: Optional[Dict[str, Any]] = None


@dataclass
class _AttackedBatch:
    """One DAT step's images in [0, 1] RGB and what the attack returned. ``x_hat`` and ``codes_x``
    are None for ``train_on='fused'``, which never computes Q(x)."""
    x: Tensor
    valid: Tensor
    rng_devices: List[torch.device]
    rng_draws: List[Tensor]
    stats: Dict[str, float] = field(default_factory=dict)
    x_hat: Optional[Tensor] = None
    codes_x: Optional[Tensor] = None
    center: Optional[Tensor] = None
    result: Optional[AttackResult] = None
    x_adv: Optional[Tensor] = None
    codes_adv: Optional[Tensor] = None
    adv_inputs: Optional[Tensor] = None


@contextmanager
def bn_mode_context(model: nn.Module, mode: str) -> Iterator[None]:
    """Run the attack passes with BatchNorm in ``mode``.

    ``'train'`` keeps the model as it is (the official code: running statistics are updated);
    ``'freeze'`` restores every running statistic afterwards; ``'eval'`` switches the model to eval mode
    (running statistics used, dropout off) and back.
    """
    if mode == 'train':
        yield
        return
    if mode == 'eval':
        was_training = model.training
        model.eval()
        try:
            yield
        finally:
            model.train(was_training)
        return
    saved = [(m, {k: getattr(m, k).clone() for k in ('running_mean', 'running_var', 'num_batches_tracked')
                  if getattr(m, k, None) is not None})
             for m in model.modules() if getattr(m, 'running_mean', None) is not None]
    try:
        yield
    finally:
        for module, buffers in saved:
            for name, value in buffers.items():
                getattr(module, name).copy_(value)


@contextmanager
def frozen_averages(model: nn.Module) -> Iterator[None]:
    """Hold every averaged copy inside ``model`` (mmengine's ``BaseAveragedModel``: MoCo v3's and
    BYOL's momentum encoders) as it is: ``update_parameters`` does nothing meanwhile, so the DAT passes
    add no momentum update to the one of the training step."""
    averaged = [module for module in model.modules() if isinstance(module, BaseAveragedModel)]
    for module in averaged:
        module.update_parameters = _no_update
    try:
        yield
    finally:
        for module in averaged:
            del module.update_parameters


def _no_update(model: nn.Module) -> None:
    """``update_parameters`` while the DAT passes run."""


class DATPreprocessorMixin:
    """Adds Discrete Adversarial Training to a stock OpenMMLab data preprocessor.

    Mix it in before the stock class (``class X(DATPreprocessorMixin, DetDataPreprocessor)``) and call
    :meth:`init_dat` from ``__init__``; :class:`~mmdat.models.pixel_domain.PixelDomain` reads the
    stock class's mean, std and channel order. ``mmdat.DATHook`` binds the model and plans each
    iteration.

    Multi-view input (self-supervised learning: ``inputs`` a list of view batches) is the one other
    case: the views are stacked into one batch, discretized and attacked together through one gradient
    of the algorithm's loss, and split again wherever the model sees them. Momentum encoders inside the
    model are updated by the training step only, never by the DAT passes.

    The ``dat`` dict:
        discretizer (dict): the frozen Q, e.g. ``dict(type='mmdat.VQGANDiscretizer', preset=...,
            checkpoint=...)``. Kept outside the module tree: never in checkpoints or EMA copies.
        attack (dict): ``dict(type='L2Attack', eps=0.1, step_size=0.1, steps=1, random_start_prob=0.8)``
            (official), ``dict(type='GradAttack', alpha=0.1)`` (Eq. 5), or an attack with Q in the loop:
            ``dict(type='CodeFlipAttack', fraction=0.05)``, ``'LatentPGDAttack'``,
            ``'QuantizedPGDAttack'`` (not with ``'fused'``). See :mod:`mmdat.models.attacks`.
        train_on (str): ``'clean+adv'`` (official objective; one concatenated batch, data samples
            duplicated), ``'adv'`` (Algorithm 1), ``'separate'`` (official semantics exactly: the clean loss
            is back-propagated locally first, the adversarial one by the normal update) or ``'fused'``
            (the clean pass also gives the attack direction ∇ₓL(x) by Eq. 7: one discretizer pass and
            2 forwards + 2 backwards per step). Defaults to ``'clean+adv'``.
        perturb_at (str): ``'x_hat'``: x_adv = Q(x̂ + δ) (official code); ``'x'``: x_adv = Q(x + δ)
            (Algorithm 1). Defaults to ``'x_hat'``. ``'fused'`` always perturbs x; the code-space
            attacks change the words of x (no change: x_adv = x̂) and ignore it.
        bn_mode (str): BatchNorm during the attack passes: ``'train'`` (official), ``'freeze'``
            (running statistics restored) or ``'eval'``. Defaults to ``'train'``.
    """

    def init_dat(self, dat: Optional[dict]) -> None:
        """Parse and validate the ``dat`` config (``None`` disables DAT)."""
        self.dat_enabled = dat is not None
        if not self.dat_enabled:
            return
        dat = dict(dat)
        unknown = set(dat) - {'discretizer', 'attack', 'train_on', 'perturb_at', 'bn_mode'}
        if unknown:
            raise KeyError(f'unknown keys in the dat config: {sorted(unknown)}')
        if 'discretizer' not in dat:
            raise KeyError("the dat config needs a discretizer, e.g. dict(type='mmdat.VQGANDiscretizer', "
                           "preset='openimages-f8-16384', checkpoint=...)")
        self.train_on = dat.get('train_on', 'clean+adv')
        self.perturb_at = dat.get('perturb_at', 'x_hat')
        self.bn_mode = dat.get('bn_mode', 'train')
        for name, value, choices in (('train_on', self.train_on, TRAIN_ON),
                                     ('perturb_at', self.perturb_at, PERTURB_AT),
                                     ('bn_mode', self.bn_mode, BN_MODES)):
            if value not in choices:
                raise ValueError(f'dat.{name} must be one of {choices}, but got {value!r}')
        self.discretizer = MODELS.build(dat['discretizer'])
        self.attack = build_attack(dat.get('attack', dict(type='L2Attack')))
        self.attack.bind_discretizer(self.discretizer)
        if self.train_on == 'fused' and not self.attack.fused_compatible:
            raise ValueError(f"train_on='fused' takes its attack direction from the clean backward, but "
                             f'{type(self.attack).__name__} needs its own gradient passes; use '
                             "train_on='separate' (the same objective) or 'clean+adv'")
        if self.train_on == 'fused' and self.attack.steps != 1:
            raise ValueError("train_on='fused' takes its attack direction from the clean backward, so it "
                             f'supports a single attack step only, but got steps: {self.attack.steps}')
        self._views = 0  # views of the batch in the DAT step (0: one tensor, not a view list)
        self._model_ref: Optional[Callable[[], Optional[nn.Module]]] = None
        self._optim_wrapper_ref: Optional[Callable[[], Any]] = None
        self.dat_plan: Optional[DATIterationPlan] = None
        self.dat_report: Optional[DATReport] = None

    # -- binding (done by DATHook) -------------------------------------------------------------------
    def bind_dat(self, model: nn.Module, optim_wrapper: Any = None) -> None:
        """Give the DAT step the unwrapped model to attack and the optim wrapper (for loss scaling and
        the local clean backward). Both are held by weak reference: no cycles, no module registration."""
        self._model_ref = weakref.ref(model)
        self._optim_wrapper_ref = weakref.ref(optim_wrapper) if optim_wrapper is not None else None

    # -- forward --------------------------------------------------------------------------------------
    @torch.compiler.disable
    def forward(self, data: dict, training: bool = False) -> dict:
        """The stock preprocessing, then on training batches the DAT step. Under ``torch.compile`` this
        is a graph break: the model's own forward and backward still compile."""
        data = super().forward(data, training)  # exactly once: batch augments are stateful
        if not training or not self.dat_enabled:
            return data
        model = self._model_ref() if self._model_ref is not None else None
        if model is None:
            raise RuntimeError(MISSING_HOOK.format(name=type(self).__name__))
        if self.dat_plan is None:
            raise RuntimeError(PLAN_USED.format(name=type(self).__name__))
        plan, self.dat_plan = self.dat_plan, None
        if not plan.active:
            return data
        return self._dat_step(model, data, plan)

    # -- pixel domains (mmdat.models.pixel_domain) --------------------------------------------------
    def pixel_domain(self) -> PixelDomain:
        """mean/std and channel order of this preprocessor's output."""
        return PixelDomain.of(self)

    def to_unit_rgb(self, inputs: Tensor) -> Tensor:
        """Preprocessed batch -> RGB in [0, 1] (padding values included; mask them separately)."""
        return self.pixel_domain().to_unit_rgb(inputs)

    def from_unit_rgb(self, images: Tensor, reference: Tensor, valid: Tensor) -> Tensor:
        """RGB in [0, 1] -> the preprocessed domain; outside ``valid`` the values of ``reference``
        (the stock output, so padding stays bit-exact) are kept."""
        return self.pixel_domain().from_unit_rgb(images, reference, valid)

    valid_mask = staticmethod(PixelDomain.valid_mask)

    # -- the step -------------------------------------------------------------------------------------
    def _amp_scale(self) -> float:
        wrapper = self._optim_wrapper_ref() if self._optim_wrapper_ref is not None else None
        scaler = getattr(wrapper, 'loss_scaler', None)
        if scaler is None or not scaler.is_enabled():
            return 1.0
        return float(scaler.get_scale())

    def _backward_locally(self, loss: Tensor) -> float:
        """Back-propagate ``loss`` into the parameters' ``.grad`` as the optim wrapper would (gradient
        accumulation factor and AMP scale), without counting an update. Under DDP this stays local and
        the following synchronised backward reduces the sum. Returns the factor applied to the loss."""
        wrapper = self._optim_wrapper_ref() if self._optim_wrapper_ref is not None else None
        if wrapper is None:
            raise RuntimeError(f"train_on='{self.train_on}' needs the optim wrapper; bind it with "
                               'DATHook (or bind_dat(model, optim_wrapper))')
        factor = float(wrapper.scale_loss(torch.ones((), device=loss.device)))
        amp_scale = self._amp_scale()
        (loss * factor * amp_scale).backward()
        return factor * amp_scale

    def _generator(self, device: torch.device, seed: int) -> torch.Generator:
        generator = torch.Generator(device=device)
        generator.manual_seed((seed * 1009 + get_rank()) % (2**63))
        return generator

    def _dat_step(self, model: nn.Module, data: dict, plan: DATIterationPlan) -> dict:
        inputs = data['inputs']
        self._views = len(inputs) if isinstance(inputs, (list, tuple)) else 0
        if self._views:
            self.check_multi_view()
        try:
            batch = self._stack_views(inputs) if self._views else inputs
            with frozen_averages(model):
                step = self._discretize_and_attack(model, batch, data['data_samples'], plan)
                self.dat_report = self._report(model, step, data['data_samples'], plan)
            return self._assemble(data, step.adv_inputs)
        finally:
            self._views = 0

    def check_multi_view(self) -> None:
        """Refuse the ``train_on`` modes that do not work on view lists."""
        if self.dat_enabled and self.train_on == 'clean+adv':
            raise ValueError(
                "dat.train_on='clean+adv' concatenates the clean and adversarial batches, so a contrastive "
                "loss would take each image's clean and adversarial views for negatives of each other; "
                "use train_on='separate' (the same clean + adversarial objective, each loss on its own "
                "batch), 'adv' (Algorithm 1) or 'fused'")

    @staticmethod
    def _stack_views(views: Sequence[Tensor]) -> Tensor:
        shapes = {tuple(view.shape) for view in views}
        if len(shapes) != 1:
            raise ValueError(f'the views differ in size ({sorted(shapes)}): DAT attacks all views through '
                             'one gradient of the loss and needs them the same size (one crop size for '
                             'every view, as MoCo v3, SimCLR and SimSiam use)')
        return torch.cat(list(views))

    def _model_input(self, batch: Tensor) -> Union[Tensor, List[Tensor]]:
        """What the model takes: the batch, or in a multi-view step the list of its views."""
        return list(batch.chunk(self._views)) if self._views else batch

    def _discretize_and_attack(self, model: nn.Module, inputs: Tensor, samples: List[Any],
                               plan: DATIterationPlan) -> '_AttackedBatch':
        """x̂ = Q(x), δ from the model's full loss, x_adv = Q(center + δ), in the model's domain."""
        valid = self.valid_mask(inputs, None if self._views else samples)  # views are not padded
        x = self.to_unit_rgb(inputs)
        generator = self._generator(inputs.device, plan.seed)
        rng_devices = [inputs.device] if inputs.is_cuda else []
        step = _AttackedBatch(x=x, valid=valid, rng_devices=rng_devices,
                              rng_draws=_rng_states(rng_devices))  # RPN / RoI samplers draw these

        def loss_at(images: Tensor) -> Tensor:
            return full_loss(model, self._model_input(self.from_unit_rgb(images, inputs, valid)), samples)

        if self.train_on == 'fused':  # no x̂ here: x_adv = Q(x + δ)
            result = self._fused_attack(model, inputs, samples, x, valid, generator, plan,
                                        step.stats)
            step.center = x
        else:
            if self.train_on == 'separate':
                with torch.enable_grad():
                    clean_loss = full_loss(model, self._model_input(inputs), samples)
                self._backward_locally(clean_loss)
                step.stats['loss_clean'] = float(clean_loss.detach())
            if self.attack.code_space:  # from the words of x; it decodes x̂ and x_adv itself
                with bn_mode_context(model, self.bn_mode):
                    result = self.attack.run(x, loss_at, valid, generator, plan.eps_scale,
                                             loss_scale=self._amp_scale())
                step.x_hat, step.codes_x = result.x_hat, result.codes_x
                step.center = step.x_hat
            else:
                x_hat, step.codes_x = self.discretizer.discretize_with_codes(x)
                step.x_hat = torch.where(valid, x_hat, x)
                with bn_mode_context(model, self.bn_mode):
                    result = self.attack.run(step.x_hat, loss_at, valid, generator, plan.eps_scale,
                                             loss_scale=self._amp_scale())
                step.center = step.x_hat if self.perturb_at == 'x_hat' else x
            step.stats['loss_xhat'] = float(result.start_loss)
        step.result = result
        if result.x_adv is not None:
            x_adv, step.codes_adv = result.x_adv, result.codes_adv
        else:
            x_adv, step.codes_adv = self.discretizer.discretize_with_codes(
                (step.center + result.delta).clamp(0, 1))
        keep = result.finite.view(-1, 1, 1, 1) & torch.isfinite(x_adv).flatten(1).all(1).view(-1, 1, 1, 1)
        # a sample whose δ or Q(center + δ) is not finite trains on its attack-free image instead
        step.x_adv = torch.where(valid & keep, x_adv, x if step.x_hat is None else step.x_hat)
        step.adv_inputs = self.from_unit_rgb(step.x_adv, inputs, valid)
        return step

    def _report(self, model: nn.Module, step: '_AttackedBatch', samples: List[Any],
                plan: DATIterationPlan) -> DATReport:
        """The step's statistics (the costly ones only when planned) and the samples to draw."""
        stats = step.stats
        stats['delta_norm'] = float(per_sample_norm(step.result.delta).mean())
        # how far the model's adversarial input is from x: Q's own error plus δ (Eq. 7 wants it small)
        stats['adv_distance'] = float(per_sample_norm((step.x_adv - step.x) * step.valid).mean())
        stats['nonfinite'] = float((~step.result.finite).sum())
        stats['eps_scale'] = plan.eps_scale
        if plan.collect_stats:
            # visual words the perturbation changed: Q(center + δ) against Q(center); a code-space
            # attack's words against those of x it started from
            from_x = step.center is step.x or self.attack.code_space
            codes_center = step.codes_x if from_x and step.codes_x is not None \
                else self.discretizer.codes(step.center)
            if codes_center is not None and step.codes_adv is not None:
                stats['code_flip'] = float((codes_center != step.codes_adv).float().mean())
            # the attack's random draws again, and none taken from training: logging changes nothing
            with torch.random.fork_rng(devices=step.rng_devices), torch.no_grad(), \
                    bn_mode_context(model, 'freeze'):
                _set_rng_states(step.rng_draws, step.rng_devices)
                stats['loss_adv'] = float(full_loss(model, self._model_input(step.adv_inputs), samples))
        visuals = None
        if plan.num_visuals > 0:
            k = min(plan.num_visuals, len(samples))  # a multi-view batch: its first view
            visuals = dict(x=step.x[:k].detach().cpu(),
                           x_hat=None if step.x_hat is None else step.x_hat[:k].detach().cpu(),
                           x_adv=step.x_adv[:k].detach().cpu(), valid=step.valid[:k].cpu(),
                           data_samples=[s.cpu() if hasattr(s, 'cpu') else s for s in samples[:k]])
        return DATReport(stats=stats, visuals=visuals)

    def _assemble(self, data: dict, adv_inputs: Tensor) -> dict:
        """The batch the model trains on: x_adv alone, or the stock batch and x_adv together."""
        inputs, samples = data['inputs'], data['data_samples']
        if self.train_on == 'clean+adv':
            return dict(inputs=torch.cat([inputs, adv_inputs]),
                        data_samples=list(samples) + [copy.deepcopy(s) for s in samples])
        return dict(inputs=self._model_input(adv_inputs), data_samples=samples)

    def _fused_attack(self, model: nn.Module, inputs: Tensor, data_samples: List[Any], x: Tensor,
                      valid: Tensor, generator: torch.Generator, plan: DATIterationPlan,
                      stats: Dict[str, float]) -> AttackResult:
        """The clean training backward on the stock batch also yields ∇ₓL(x), the attack direction
        (Eq. 7 with x̂ ≈ x): parameters' gradients and the input gradient come from one backward."""
        null = self.attack.is_null(plan.eps_scale)  # then ∇ₓL is not needed: the backward stops early
        clean_inputs = inputs.detach().clone().requires_grad_(not null)
        with torch.enable_grad():
            clean_loss = full_loss(model, self._model_input(clean_inputs), data_samples)
        applied = self._backward_locally(clean_loss)
        stats['loss_clean'] = float(clean_loss.detach())
        if null:
            return AttackResult(delta=torch.zeros_like(x), start_loss=clean_loss.detach(),
                                finite=torch.ones(x.shape[0], dtype=torch.bool, device=x.device))
        input_grad = clean_inputs.grad if clean_inputs.grad is not None else torch.zeros_like(inputs)
        grad = self.pixel_domain().gradient_to_unit_rgb(input_grad / applied)
        start = self.attack.initial_point(x, valid, generator, plan.eps_scale)
        moved, finite = self.attack.step(start, grad, x, valid, plan.eps_scale)
        return AttackResult(delta=self.attack.perturbation(moved, x, valid, finite),
                            start_loss=clean_loss.detach(), finite=finite)

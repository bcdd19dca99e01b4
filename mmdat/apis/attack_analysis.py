"""What the analysis tools share: a trained model's val batches in RGB [0, 1], and one attack's
adversarial example there, made as the DAT step makes it (``tools/analysis/attack_share.py``,
``tools/analysis/perturbations.py``)."""
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

from mmdat.models.full_loss import full_loss
from mmdat.models.pixel_domain import PixelDomain


@dataclass
class AttackView:
    """One preprocessed batch as the attacks see it.

    Attributes:
        inputs: the stock preprocessed batch (the model's domain).
        samples: its data samples.
        x: the images in RGB [0, 1].
        valid: (N, 1, H, W) bool mask of unpadded pixels.
        model: the model whose full training loss is attacked.
    """
    inputs: Tensor
    samples: List[Any]
    x: Tensor
    valid: Tensor
    model: Any

    def loss_at(self, images: Tensor) -> Tensor:
        """The model's full training loss at ``images`` (RGB [0, 1]; padding from ``inputs``)."""
        domain = PixelDomain.of(self.model.data_preprocessor)
        return full_loss(self.model, domain.from_unit_rgb(images, self.inputs, self.valid), self.samples)

    def crops(self, images: Tensor) -> List[Tensor]:
        """Each image cut to its valid region, 3×h×w."""
        heights = self.valid[:, 0].any(dim=2).sum(dim=1)
        widths = self.valid[:, 0].any(dim=1).sum(dim=1)
        return [image[:, :int(h), :int(w)] for image, h, w in zip(images, heights, widths)]


def attack_views(cfg, model, num_images: int, batch_size: int) -> List[AttackView]:
    """The first ``num_images`` images of ``cfg``'s test dataloader through the model's stock
    preprocessing (annotations kept: the loss needs them), as :class:`AttackView` batches."""
    from mmengine.runner import Runner
    loader = cfg.test_dataloader.copy()
    loader.dataset.indices = num_images
    loader.update(batch_size=batch_size, num_workers=0, persistent_workers=False)
    domain = PixelDomain.of(model.data_preprocessor)
    views = []
    for data in Runner.build_dataloader(loader):
        with torch.no_grad():
            batch = model.data_preprocessor(data, False)
        inputs, samples = batch['inputs'], batch['data_samples']
        views.append(AttackView(inputs=inputs, samples=samples, x=domain.to_unit_rgb(inputs),
                                valid=domain.valid_mask(inputs, samples), model=model))
    return views


def adversarial_example(attack: Any, discretizer: Optional[Any], view: AttackView, x_hat: Tensor,
                        generator: torch.Generator,
                        perturb_at: str = 'x_hat') -> Tuple[Tensor, Optional[Tensor], Any]:
    """(x_adv, its codes, the attack's result) as the DAT step makes them: a code-space attack decodes
    x_adv from the words of x; a pixel attack perturbs x̂ (``perturb_at='x_hat'``) or x, and x_adv is
    Q(centre + δ), or centre + δ without a discretizer (a pixel-space adversarial example)."""
    x, valid = view.x, view.valid
    if attack.code_space:
        result = attack.run(x, view.loss_at, valid, generator)
        return result.x_adv, result.codes_adv, result
    center = x_hat if perturb_at == 'x_hat' else x
    result = attack.run(center, view.loss_at, valid, generator)
    moved = (center + result.delta).clamp(0, 1)
    if discretizer is None:
        return torch.where(valid, moved, x), None, result
    x_adv, codes = discretizer.discretize_with_codes(moved)
    return torch.where(valid, x_adv, x), codes, result

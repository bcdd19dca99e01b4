"""Adversarial robustness: the metric of the model's own test evaluator under FGSM / PGD (L∞ or L2)
on its full training loss (cross-entropy for classifiers, the whole detection loss for detectors),
in RGB [0, 1] through the model's own data preprocessor."""
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from mmdat.models.attacks import build_attack
from mmdat.models.full_loss import full_loss
from mmdat.models.pixel_domain import PixelDomain
from .benchmark import CLEAN, CellBenchmark, numeric_metrics
from .summary import headline_metrics


@dataclass(frozen=True)
class AttackSpec:
    """One cell of the adversarial grid.

    Attributes:
        method: ``'fgsm'`` (one step of size eps, no random start) or ``'pgd'`` (``steps`` steps of
            ``step_size``, uniform / spherical random start).
        norm: ``'linf'`` or ``'l2'`` (L2: per-image norm over all values in [0, 1]).
        eps: the budget.
        steps: PGD steps. FGSM ignores it.
        step_size: PGD step; None: 2.5 · eps / steps (Madry et al.).
    """
    method: str
    norm: str
    eps: float
    steps: int = 10
    step_size: Optional[float] = None

    @property
    def name(self) -> str:
        return f'{self.method}_{self.norm}'

    def attack_cfg(self) -> dict:
        if self.method == 'fgsm':
            steps, step_size, start = 1, self.eps, 0.0
        else:
            steps = self.steps
            step_size = self.step_size if self.step_size is not None else 2.5 * self.eps / steps
            start = 1.0
        return dict(type={'linf': 'LinfAttack', 'l2': 'L2Attack'}[self.norm], eps=self.eps,
                    step_size=step_size, steps=steps,
                    random_start_prob=start)


def check_attack(method: str, norm: str, eps: float, steps: int) -> None:
    """Raise ValueError for an attack setting that cannot run."""
    if method not in ('fgsm', 'pgd'):
        raise ValueError(f"attack must be 'fgsm' or 'pgd', but got {method!r}")
    if norm not in ('linf', 'l2'):
        raise ValueError(f"norm must be 'linf' or 'l2', but got {norm!r}")
    if eps <= 0:
        raise ValueError(f'eps must be > 0, but got {eps}')
    if steps < 1:
        raise ValueError(f'steps must be >= 1, but got {steps}')


class AdversarialBenchmark(CellBenchmark):
    """Clean and adversarial evaluation of one checkpoint, resumable cell by cell.

    Args:
        cfg, checkpoint, out_dir, num_images, workers: as :class:`CellBenchmark`.
        attacks (list[AttackSpec]): the cells.
        seed (int): seed of the random starts (with each batch's first image index). Defaults to 0.

    Under ``--launcher pytorch`` every rank evaluates its share of the images (mmengine's
    ``DefaultSampler``) and the evaluator gathers them, as in ``tools/test.py``.
    """

    cells_dirname = 'adversarial_cells'

    def __init__(self, cfg, checkpoint: str, out_dir: str, attacks: List[AttackSpec],
                 num_images: Optional[int] = None, workers: Optional[int] = None,
                 seed: int = 0) -> None:
        super().__init__(cfg, checkpoint, out_dir, num_images, workers)
        self.attacks = {(spec.name, f'{spec.eps:.6g}'): spec for spec in attacks}
        self.seed = seed
        self.identity.update(seed=seed, attacks=[asdict(spec) for spec in attacks])

    def cells(self) -> List[Tuple[str, object]]:
        return [CLEAN] + list(self.attacks)

    def evaluate(self, runner: Runner, cell: Tuple[str, object]) -> Dict[str, float]:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.eval()
        dataloader = runner.build_dataloader(self.test_dataloader())
        evaluator = self.build_evaluator(runner, dataloader.dataset)
        evaluator.dataset_meta = getattr(dataloader.dataset, 'metainfo', None)
        attack = None if cell == CLEAN else build_attack(self.attacks[cell].attack_cfg())
        # a batch's random start is seeded by its first image's index in the dataset, so that with
        # batch size 1 (mmdet's test default) no cell depends on how the images are shared out
        first_images = [indices[0] for indices in dataloader.batch_sampler]
        for index, (data, first) in enumerate(zip(dataloader, first_images)):
            with torch.no_grad():
                batch = model.data_preprocessor(data, False)
            inputs, samples = batch['inputs'], batch['data_samples']
            if attack is not None:
                generator = torch.Generator().manual_seed(self.seed * 1_000_003 + int(first))
                inputs = self._attacked(model, attack, inputs, samples, generator)
            with torch.no_grad():
                outputs = model(inputs, samples, mode='predict')
            evaluator.process(data_samples=outputs, data_batch=data)
            self.progress.after_test_iter(runner, index, data, outputs)
        return numeric_metrics(evaluator.evaluate(len(dataloader.dataset)))

    @staticmethod
    def _attacked(model, attack, inputs, samples, generator) -> torch.Tensor:
        domain = PixelDomain.of(model.data_preprocessor)
        valid = domain.valid_mask(inputs, samples)
        x = domain.to_unit_rgb(inputs)

        def loss_at(images: torch.Tensor) -> torch.Tensor:
            return full_loss(model, domain.from_unit_rgb(images, inputs, valid), samples)

        result = attack.run(x, loss_at, valid, generator)
        return domain.from_unit_rgb((x + result.delta).clamp(0, 1), inputs, valid)

    def run(self) -> dict:
        """Evaluate the missing cells; return the content of ``adversarial.json``."""
        done = self.run_cells()
        clean = done[CLEAN]['metrics']
        rows = []
        for cell, spec in self.attacks.items():
            rows.append(dict(asdict(spec), name=spec.name, attack=spec.attack_cfg(),
                             metrics=done[cell]['metrics'], seconds=done[cell]['seconds']))
        return dict(config=self.identity['config'] or '', checkpoint=self.checkpoint,
                    num_images=self.num_images, seed=self.seed, clean=clean, attacks=rows,
                    metrics=[name for _, name in headline_metrics(clean)])


def write_adversarial_reports(result: dict, out_dir: str) -> str:
    """``adversarial.json``, ``adversarial.md`` and ``adversarial.png`` (metric against eps per
    attack); returns the Markdown table."""
    import json
    import os.path as osp

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    key, name = headline_metrics(result['clean'])[0]
    scale = 100.0 if key.startswith('coco/') else 1.0
    lines = [f'| attack | eps | steps | step size | {name} |', '|---|---|---|---|---|',
             f'| clean | 0 | – | – | {scale * result["clean"][key]:.2f} |']
    for row in result['attacks']:
        lines.append(f'| {row["name"]} | {row["eps"]:.6g} | {row["attack"]["steps"]} | '
                     f'{row["attack"]["step_size"]:.4g} | {scale * row["metrics"][key]:.2f} |')
    table = '\n'.join(lines)
    with open(osp.join(out_dir, 'adversarial.json'), 'w') as file:
        json.dump(result, file, indent=2)
    with open(osp.join(out_dir, 'adversarial.md'), 'w') as file:
        file.write(f'# Adversarial robustness: {osp.basename(result["config"])}\n\n'
                   f'- checkpoint: `{result["checkpoint"]}`\n'
                   f'- images: {result["num_images"] or "whole split"}; eps in RGB [0, 1] '
                   '(L2: per-image norm)\n\n' + table + '\n\n![adversarial](adversarial.png)\n')
    figure, axes = plt.subplots(figsize=(6, 4))
    for attack_name in sorted({row['name'] for row in result['attacks']}):
        rows = sorted((r for r in result['attacks'] if r['name'] == attack_name),
                      key=lambda r: r['eps'])
        axes.plot([0] + [r['eps'] for r in rows],
                  [scale * result['clean'][key]] + [scale * r['metrics'][key] for r in rows],
                  marker='o', label=attack_name)
    axes.set_xlabel('eps (RGB [0, 1])')
    axes.set_ylabel(name)
    axes.legend()
    figure.tight_layout()
    figure.savefig(osp.join(out_dir, 'adversarial.png'), dpi=100)
    plt.close(figure)
    return table

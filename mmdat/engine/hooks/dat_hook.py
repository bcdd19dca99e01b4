import random
from typing import Optional

from mmengine.hooks import Hook, LoggerHook
from mmengine.model import is_model_wrapper

from mmdat.models.data_preprocessors import DATIterationPlan, DATPreprocessorMixin
from mmdat.registry import HOOKS
from mmdat.visualization import make_dat_grid

SHARDED_WRAPPERS = ('FullyShardedDataParallel', 'DeepSpeed')


@HOOKS.register_module()
class DATHook(Hook):
    """Drives Discrete Adversarial Training: binds the model to the DAT data preprocessor, schedules the
    attack, logs its statistics to the MessageHub and sends example grids to the visualizer.

    Every decision is derived from the iteration and the run's seed, so it is identical on all ranks (SyncBN
    and some losses issue collectives inside the attack) and a resumed run repeats it exactly.

    Args:
        begin_iter (int): first iteration that runs DAT. Defaults to 0.
        warmup_iters (int): the attack strength ramps linearly from 0 to its full value over this many
            iterations from ``begin_iter``. Defaults to 0.
        prob (float): probability that a batch is attacked. Defaults to 1.0.
        stats_interval (int, optional): compute the statistics that need an extra pass (loss at x_adv,
            code flips) every this many iterations. Defaults to the LoggerHook's interval.
        vis_interval (int): send an x | Q(x) | x_adv | |x_adv − x| | |x_adv − Q(x)| grid to the
            visualizer every this many iterations; 0 disables it. Defaults to 500.
        num_vis_samples (int): rows of that grid. Defaults to 4.
    """

    priority = 'VERY_HIGH'

    def __init__(self, begin_iter: int = 0, warmup_iters: int = 0, prob: float = 1.0,
                 stats_interval: Optional[int] = None, vis_interval: int = 500,
                 num_vis_samples: int = 4) -> None:
        if begin_iter < 0:
            raise ValueError(f'begin_iter must be >= 0, but got begin_iter: {begin_iter}')
        if warmup_iters < 0:
            raise ValueError(f'warmup_iters must be >= 0, but got warmup_iters: {warmup_iters}')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], but got prob: {prob}')
        if stats_interval is not None and stats_interval < 1:
            raise ValueError(f'stats_interval must be >= 1, but got stats_interval: {stats_interval}')
        if vis_interval < 0 or num_vis_samples < 1:
            raise ValueError('vis_interval must be >= 0 and num_vis_samples >= 1, but got '
                             f'vis_interval: {vis_interval}, num_vis_samples: {num_vis_samples}')
        self.begin_iter = begin_iter
        self.warmup_iters = warmup_iters
        self.prob = prob
        self.stats_interval = stats_interval
        self.vis_interval = vis_interval
        self.num_vis_samples = num_vis_samples

    def _preprocessor(self, runner) -> DATPreprocessorMixin:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        preprocessor = model.data_preprocessor
        if not isinstance(preprocessor, DATPreprocessorMixin):
            raise TypeError(
                'DATHook needs a DAT data preprocessor: set model.data_preprocessor.type to '
                "'mmdat.DATDataPreprocessor' (mmdet) or 'mmdat.DATClsDataPreprocessor' (mmpretrain), "
                f'but got {type(preprocessor).__name__}')
        return preprocessor

    def before_train(self, runner) -> None:
        wrapper_name = type(runner.model).__name__
        if any(name in wrapper_name for name in SHARDED_WRAPPERS) or runner.cfg.get('strategy'):
            raise RuntimeError(
                f'DAT cannot run under {wrapper_name or "a sharding strategy"}: its attack needs the whole, '
                'unsharded model. Use DistributedDataParallel (launcher=pytorch) instead of FSDP/DeepSpeed.')
        preprocessor = self._preprocessor(runner)
        if not preprocessor.dat_enabled:
            return
        if preprocessor.train_on in ('separate', 'fused') and getattr(runner.model, 'static_graph', False):
            raise RuntimeError(
                f"train_on='{preprocessor.train_on}' back-propagates the clean loss outside DDP's forward, "
                'which static_graph DDP does not allow: set model_wrapper_cfg static_graph=False or '
                "use train_on='clean+adv'")
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        preprocessor.bind_dat(model, runner.optim_wrapper)
        if self.stats_interval is None:
            loggers = [hook for hook in runner.hooks if isinstance(hook, LoggerHook)]
            self.stats_interval = loggers[0].interval if loggers else 50

    def plan(self, iteration: int, seed: int) -> DATIterationPlan:
        """The plan for ``iteration`` (0-based), a pure function of the iteration and the run's seed."""
        if iteration < self.begin_iter:
            return DATIterationPlan(active=False)
        draw_seed = (seed * 1_000_003 + iteration) % (2**63)
        if self.prob < 1.0 and random.Random(draw_seed).random() >= self.prob:
            return DATIterationPlan(active=False)
        ramp = 1.0
        if self.warmup_iters > 0:
            ramp = min(1.0, (iteration - self.begin_iter + 1) / self.warmup_iters)
        every = iteration + 1
        draw_vis = self.vis_interval > 0 and every % self.vis_interval == 0
        return DATIterationPlan(
            active=True, eps_scale=ramp, seed=draw_seed,
            collect_stats=every % self.stats_interval == 0,
            num_visuals=self.num_vis_samples if draw_vis else 0)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        preprocessor = self._preprocessor(runner)
        if preprocessor.dat_enabled:
            preprocessor.dat_plan = self.plan(runner.iter, runner.seed or 0)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        preprocessor = self._preprocessor(runner)
        if not preprocessor.dat_enabled:
            return
        report, preprocessor.dat_report = preprocessor.dat_report, None
        if report is None:
            return
        for name, value in report.stats.items():
            runner.message_hub.update_scalar(f'train/dat/{name}', value)
        if report.visuals is not None:
            runner.visualizer.add_image('dat_examples', make_dat_grid(report.visuals), step=runner.iter + 1)

"""A test-only hook: after training, every rank saves its parameters, so a test can compare ranks."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ParamDumpHook(Hook):

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.save(flat, osp.join(runner.work_dir, f'params_rank{get_rank()}.pt'))

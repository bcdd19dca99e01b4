from . import (attacks, backbones, data_preprocessors, dense_heads, detectors,  # noqa: F401
               discretizers, layers, necks, task_modules, vqgan_training)  # (registers components)

# Importing the subpackages registers their components.
from . import (attacks, backbones, data_preprocessors, dense_heads, detectors, discretizers,  # noqa: F401
               layers, necks, task_modules, vqgan_training)

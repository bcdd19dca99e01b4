"""mmdat registries: children of mmengine's roots, so ``type='mmdat.Name'`` resolves under any
default scope (``mmdet``, ``mmpretrain``) and lazily imports the module that registers ``Name``."""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['mmdat.models'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mmdat.engine.hooks'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmdat.engine.optimizers'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['mmdat.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, locations=['mmdat.datasets'])
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, locations=['mmdat.models'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['mmdat.evaluation'])
# DAT's inner maximisation (``dat.attack`` and the adversarial evaluation), under class names
# (``type='L2Attack'``, ...), in mmengine's TASK_UTILS tree below mmdat's own
ATTACKS = Registry('attack', parent=TASK_UTILS, scope='mmdat', locations=['mmdat.models.attacks'])

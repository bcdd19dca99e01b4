from .efficientdet import EFFICIENTDET_SCALING, EfficientDet, EfficientDetScaling, efficientdet_components

__all__ = ['EFFICIENTDET_SCALING', 'EfficientDet', 'EfficientDetScaling', 'efficientdet_components']

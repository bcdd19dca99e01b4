from .anchor_generator import EFFICIENTDET_ASPECTS, EfficientDetAnchorGenerator

__all__ = ['EFFICIENTDET_ASPECTS', 'EfficientDetAnchorGenerator']

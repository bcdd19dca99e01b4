from .same_padding import (SameConv2d, SameConvModule, SameMaxPool2d, SeparableConv2d, same_padding,
                           variance_scaling_init)

__all__ = ['SameConv2d', 'SameConvModule', 'SameMaxPool2d', 'SeparableConv2d', 'same_padding',
           'variance_scaling_init']

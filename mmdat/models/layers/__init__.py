from .same_padding import (SameConv2d, SameConvModule, SameMaxPool2d, SeparableConv2d,
                           same_padding)

__all__ = ['SameConv2d', 'SameConvModule', 'SameMaxPool2d', 'SeparableConv2d', 'same_padding']

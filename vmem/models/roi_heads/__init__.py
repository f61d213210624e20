from .conv_fc_box_head import ConvFCBoxHead
from .standard_roi_head import StandardRoIHead
from .two_fc_box_head import TwoFCBoxHead

__all__ = ['ConvFCBoxHead', 'StandardRoIHead', 'TwoFCBoxHead']

from .faster_rcnn import FasterRCNN, to_original_image
from .mamba import MAMBA

__all__ = ['FasterRCNN', 'MAMBA', 'to_original_image']

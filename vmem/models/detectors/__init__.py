from .context_rcnn import ContextRCNN
from .faster_rcnn import FasterRCNN, to_original_image
from .mamba import MAMBA

__all__ = ['ContextRCNN', 'FasterRCNN', 'MAMBA', 'to_original_image']

from .faster_rcnn import FasterRCNN, to_original_image

__all__ = ['FasterRCNN', 'to_original_image']

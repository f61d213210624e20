"""Data transforms: loading, geometry, multi-frame broadcasting and packing."""
from .base import BaseTransform
from .contrastive import ContrastiveViews, CropObject, PackClassificationInputs, PackContrastiveInputs
from .formatting import DEFAULT_META_KEYS, PackDetInputs, PackVideoInputs
from .geometric import Pad, RandomChoiceResize, RandomFlip, Resize, rescaled_size
from .loading import LoadAnnotations, LoadFrame, decode_mask
from .photometric import Normalize
from .vos_loading import LoadVOSAnnotations, MasksToBoxes, masks_to_boxes
from .wrappers import ApplyToFrames

__all__ = ['BaseTransform', 'LoadFrame', 'LoadAnnotations', 'decode_mask', 'Resize',
           'RandomChoiceResize', 'RandomFlip', 'Pad', 'Normalize', 'rescaled_size', 'ApplyToFrames',
           'PackDetInputs', 'PackVideoInputs', 'DEFAULT_META_KEYS', 'LoadVOSAnnotations',
           'MasksToBoxes', 'masks_to_boxes',
           'ContrastiveViews', 'CropObject', 'PackContrastiveInputs', 'PackClassificationInputs']

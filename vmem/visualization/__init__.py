"""Drawing predictions onto frames: boxes, captions, masks and track ids.

Depends only on numpy and OpenCV (no vmem.models, no vmem.apis), so tools, hooks and demos
can draw without building a model.
"""
from .drawer import DetectionDrawer
from .palette import color_for

__all__ = ['DetectionDrawer', 'color_for']

"""Drawing predictions onto frames: boxes, captions, masks, track ids and anomaly maps.

Depends only on numpy and OpenCV (no vmem.models, no vmem.apis), so tools, hooks and demos
can draw without building a model.
"""
from .anomaly_map import colorize_anomaly_map, draw_anomaly_map
from .drawer import DetectionDrawer
from .palette import color_for

__all__ = ['DetectionDrawer', 'color_for', 'colorize_anomaly_map', 'draw_anomaly_map']

"""Evaluation metrics; importing registers them in ``vmem.registry.METRICS``."""
from .anomaly_metric import AnomalyMetric
from .coco_metric import CocoMetric
from .vid_metric import VIDMetric
from .vos_metric import VOSMetric

__all__ = ['AnomalyMetric', 'CocoMetric', 'VIDMetric', 'VOSMetric']

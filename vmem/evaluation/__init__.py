"""Metrics; importing registers them. Also the k-NN and linear-probe evaluation of frozen features."""
from . import metrics  # noqa: F401
from .knn_classifier import knn_accuracy, knn_predict  # noqa: F401
from .linear_probe import train_linear_probe  # noqa: F401

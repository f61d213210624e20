"""Self-supervised pretraining with memory queues (MoCo v2, MoCHi) and the evaluation of
the features it learns (weighted k-NN through the shared retrieval, linear probe)."""
from .hard_negative_mixing import HardNegativeMixer
from .knn_classifier import knn_accuracy, knn_predict
from .linear_probe import train_linear_probe
from .momentum_encoder import MomentumEncoder
from .moco import MoCo
from .projection_head import ProjectionHead

__all__ = ['HardNegativeMixer', 'MoCo', 'MomentumEncoder', 'ProjectionHead', 'knn_accuracy', 'knn_predict',
           'train_linear_probe']

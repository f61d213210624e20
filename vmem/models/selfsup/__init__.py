"""Self-supervised pretraining with memory queues: MoCo v2 and MoCHi."""
from .hard_negative_mixing import HardNegativeMixer
from .momentum_encoder import MomentumEncoder
from .moco import MoCo
from .projection_head import ProjectionHead

__all__ = ['HardNegativeMixer', 'MoCo', 'MomentumEncoder', 'ProjectionHead']

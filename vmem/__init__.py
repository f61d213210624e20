"""vmem: memory-based models for video detection, tracking, anomaly detection and
contrastive learning, sharing one memory bank with fast top-k retrieval."""
from .version import __version__

__all__ = ['__version__']

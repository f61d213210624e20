"""Memory-based trackers; importing this package registers them in MODELS."""
from .sam2_tracker import SAM2Tracker

__all__ = ['SAM2Tracker']

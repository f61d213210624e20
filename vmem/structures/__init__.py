"""Data samples passed between datasets, models and metrics."""
from .det_data_sample import DetDataSample
from .track_data_sample import TrackDataSample

__all__ = ['DetDataSample', 'TrackDataSample']

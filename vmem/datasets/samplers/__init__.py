"""Data samplers."""
from .video_sampler import VideoSampler, split_videos, video_groups

__all__ = ['VideoSampler', 'split_videos', 'video_groups']

"""Reading frames from video files, webcams, frame folders and image lists, and writing videos.

Frames are RGB uint8 numpy arrays of shape (H, W, 3) everywhere.
"""
from .errors import CorruptFrameWarning, VideoReadError, VideoWriteError
from .frame_source import FrameSource
from .image_io import IMAGE_EXTENSIONS, read_image, write_image
from .image_sequence import ImageSequenceSource, list_frame_folder, natural_sort_key
from .open_source import open_video
from .video_file import DecordVideoSource, OpenCVVideoSource, open_video_file
from .webcam import WebcamSource
from .writer import VideoWriter

__all__ = [
    'CorruptFrameWarning', 'DecordVideoSource', 'FrameSource', 'IMAGE_EXTENSIONS', 'ImageSequenceSource',
    'OpenCVVideoSource', 'VideoReadError', 'VideoWriteError', 'VideoWriter', 'WebcamSource',
    'list_frame_folder', 'natural_sort_key', 'open_video', 'open_video_file', 'read_image', 'write_image',
]

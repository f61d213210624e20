"""Errors and warnings raised by the video readers and writers."""


class VideoReadError(ValueError):
    """A video, webcam, image or frame folder exists but cannot be read."""


class VideoWriteError(ValueError):
    """A video file cannot be opened for writing."""


class CorruptFrameWarning(UserWarning):
    """One frame of a stream could not be decoded and was skipped."""

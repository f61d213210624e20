"""Video files read with decord (preferred) or OpenCV."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import VideoReadError
from .frame_source import FrameSource

BACKENDS = ('auto', 'decord', 'opencv')


class DecordVideoSource(FrameSource):
    """A video file decoded by decord; seekable, with frame-accurate random access.

    decord decodes in a background thread and reports a bad packet on whichever frame is
    being decoded when it surfaces, so next to a corrupt frame a good one may be skipped too.
    """

    # Frames decoded per get_batch call while iterating: large enough to amortise the call,
    # small enough that a 1080p chunk stays around 50 MB.
    chunk_size = 8
    # decord's threaded decoder can report a bad packet while decoding a good frame near it;
    # decoding again from a fresh seek tells the two apart.
    decode_attempts = 3

    def __init__(self, *, path: str | Path, num_threads: int = 0) -> None:
        import decord  # optional dependency: the OpenCV source covers its absence

        path = str(path)
        try:
            self._reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=num_threads)
        except Exception as error:  # decord raises DECORDError, RuntimeError or others by file
            raise VideoReadError(f'decord cannot open video file {path!r}: {_first_line(error)}') from error
        num_frames = len(self._reader)
        if num_frames == 0:
            raise VideoReadError(f'video file {path!r} has no frames')
        first, error = self._decode_with_retry(0)
        if first is None:
            raise VideoReadError(f'decord cannot decode the first frame of {path!r}: {_first_line(error)}')
        if first.ndim != 3 or first.shape[2] != 3:
            # decord 0.6 returns the padded row stride as extra channels for some widths
            # (48 px: HxWx4) and its batch reads then fail; open_video's 'auto' uses OpenCV
            raise VideoReadError(f'decord decodes {path!r} into frames of shape {first.shape}, '
                                 'not H x W x 3 (a decord bug with some frame widths)')
        fps = float(self._reader.get_avg_fps())
        super().__init__(name=path, num_frames=num_frames, fps=fps if fps > 0 else None,
                         height=first.shape[0], width=first.shape[1], seekable=True)

    def _read_frame(self, index: int) -> np.ndarray:
        frame, error = self._decode_with_retry(index)
        if frame is None:
            raise VideoReadError(f'cannot decode frame {index} of {self.name!r}: {_first_line(error)}') from error
        return frame

    def _iter_frames(self) -> Iterator[np.ndarray]:
        for start in range(0, self.num_frames, self.chunk_size):
            indices = list(range(start, min(start + self.chunk_size, self.num_frames)))
            try:
                yield from _decord_to_numpy(self._reader.get_batch(indices))
                continue
            except Exception:
                pass  # find the bad frames one by one below
            for index in indices:
                frame, error = self._decode_with_retry(index)
                if frame is None:
                    self._skip_frames(index, index + 1, _first_line(error))
                else:
                    yield frame

    def _decode_with_retry(self, index: int) -> tuple[np.ndarray | None, Exception | None]:
        error = None
        for _ in range(self.decode_attempts):
            try:
                return _decord_to_numpy(self._reader[index]), None
            except Exception as caught:
                error = caught
        return None, error

    def _release(self) -> None:
        self._reader = None


class OpenCVVideoSource(FrameSource):
    """A video file decoded by OpenCV (FFmpeg); seekable when the container states a frame count.

    Seeking uses OpenCV's frame position, which can drift by a frame after a corrupt frame;
    decord's random access is exact.
    """

    # Failed reads in a row taken to mean the stream is truncated rather than one frame bad.
    max_failed_reads = 5

    def __init__(self, *, path: str | Path) -> None:
        path = str(path)
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            capture.release()
            raise VideoReadError(f'OpenCV cannot open video file {path!r} (not a video, corrupt or truncated)')
        ok, bgr = capture.read()
        if not ok:
            capture.release()
            raise VideoReadError(f'OpenCV cannot decode the first frame of video file {path!r}')
        self._capture = capture
        self._position = 1  # index of the frame the next capture.read() returns
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        super().__init__(name=path, num_frames=count if count > 0 else None, fps=fps if fps > 0 else None,
                         height=bgr.shape[0], width=bgr.shape[1], seekable=count > 0)

    def _seek(self, index: int) -> None:
        if self._position != index:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._position = index

    def _read_frame(self, index: int) -> np.ndarray:
        self._seek(index)
        ok, bgr = self._capture.read()
        self._position = index + 1 if ok else -1  # position after a failed read is unknown
        if not ok:
            raise VideoReadError(f'cannot decode frame {index} of {self.name!r}')
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _iter_frames(self) -> Iterator[np.ndarray]:
        index = failed_in_a_row = 0
        while self.num_frames is None or index < self.num_frames:
            # read() may have moved the capture between two yields.
            self._seek(index)
            ok, bgr = self._capture.read()
            # A failed read still consumes the bad packet, so the next read returns the next frame.
            self._position = index + 1
            if ok:
                failed_in_a_row = 0
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            elif self.num_frames is None:
                break  # no stated length: a failed read is the end of the stream
            else:
                failed_in_a_row += 1
                if failed_in_a_row == self.max_failed_reads:
                    self._skip_frames(index, self.num_frames, 'the stream ended before its stated frame count')
                    return
                self._skip_frames(index, index + 1, 'OpenCV could not decode it')
            index += 1

    def _release(self) -> None:
        self._capture.release()


def open_video_file(path: str | Path, *, backend: str = 'auto') -> FrameSource:
    """Open a video file with decord, or with OpenCV where decord is missing or fails."""
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'video file not found: {str(path)!r}')
    if not path.is_file():
        raise VideoReadError(f'not a video file: {str(path)!r}')
    if backend == 'opencv':
        return OpenCVVideoSource(path=path)
    try:
        return DecordVideoSource(path=path)
    except ImportError as error:
        if backend == 'decord':
            raise ImportError('backend="decord" needs the decord package (pip install decord)') from error
        decord_problem = 'decord is not installed'
    except VideoReadError as error:
        if backend == 'decord':
            raise
        decord_problem = str(error)
    try:
        return OpenCVVideoSource(path=path)
    except VideoReadError as error:
        raise VideoReadError(f'{decord_problem}; {error}') from error


def _decord_to_numpy(frames) -> np.ndarray:
    # decord returns its own NDArray unless someone switched decord.bridge to torch or others.
    return frames.asnumpy() if hasattr(frames, 'asnumpy') else np.asarray(frames)


def _first_line(error: BaseException) -> str:
    # decord's messages carry a multi-line C++ stack trace after the useful first line.
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

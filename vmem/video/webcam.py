"""Live frames from a camera device through OpenCV."""
from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from .errors import VideoReadError
from .frame_source import FrameSource


class WebcamSource(FrameSource):
    """Camera ``index`` (0 is the default camera); not seekable, ``num_frames`` is None.

    Iteration runs until the camera stops delivering: ``max_failed_reads`` failed reads in a
    row end it (cameras drop the odd frame, especially while starting).
    """

    def __init__(self, *, index: int, max_failed_reads: int = 5) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f'webcam index must be a non-negative int, got {index!r}')
        if max_failed_reads < 1:
            raise ValueError(f'max_failed_reads must be >= 1, got {max_failed_reads}')
        name = f'webcam {index}'
        try:
            capture = cv2.VideoCapture(index)
        except cv2.error as error:  # some OpenCV builds raise instead of returning a closed capture
            raise VideoReadError(f'cannot open {name}: {error}') from error
        if not capture.isOpened():
            capture.release()
            raise VideoReadError(f'cannot open {name}: no such camera, or it is in use or not permitted')
        self._capture = capture
        self._max_failed_reads = max_failed_reads
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        super().__init__(name=name, num_frames=None, fps=fps if fps > 0 else None,
                         height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                         width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), seekable=False)

    def _iter_frames(self) -> Iterator[np.ndarray]:
        index = failed_in_a_row = 0
        while failed_in_a_row < self._max_failed_reads:
            ok, bgr = self._capture.read()
            if ok:
                failed_in_a_row = 0
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            else:
                failed_in_a_row += 1
                self._skip_frames(index, index + 1, 'the camera delivered no frame')
            index += 1

    def _release(self) -> None:
        self._capture.release()

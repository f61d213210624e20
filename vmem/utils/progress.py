"""A one-line progress report for frame streams: frames, fps and ETA when the length is
known (files, folders), frames and live fps when it is not (webcams)."""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class FrameProgress:
    """Rewrites one line on ``stream`` at most every ``min_interval`` seconds.

    fps is measured over the whole run, so ETA settles after the first frames; ``live_fps``
    is over the last second or so, which is what a webcam user wants to see."""

    def __init__(self, *, total: Optional[int] = None, stream: Optional[TextIO] = None,
                 min_interval: float = 0.5) -> None:
        if total is not None and total < 0:
            raise ValueError(f'total must be >= 0 or None, got {total}')
        self.total = total
        self.count = 0
        self._stream = stream if stream is not None else sys.stderr  # looked up now: tests swap it
        self._min_interval = min_interval
        self._start = self._last_print = self._window_start = time.perf_counter()
        self._window_count = 0
        self.live_fps = 0.0

    @property
    def fps(self) -> float:
        elapsed = time.perf_counter() - self._start
        return self.count / elapsed if elapsed > 0 else 0.0

    def update(self, frames: int = 1) -> None:
        self.count += frames
        self._window_count += frames
        now = time.perf_counter()
        if now - self._window_start >= 1.0:
            self.live_fps = self._window_count / (now - self._window_start)
            self._window_start, self._window_count = now, 0
        elif self.live_fps == 0.0:
            self.live_fps = self.fps
        if now - self._last_print >= self._min_interval or self.count == self.total:
            self._last_print = now
            self._stream.write('\r' + self.describe())
            self._stream.flush()

    def describe(self) -> str:
        if self.total is None:
            return f'{self.count} frames, {self.live_fps:.1f} fps'
        fps = self.fps
        remaining = (self.total - self.count) / fps if fps > 0 else float('nan')
        eta = time.strftime('%H:%M:%S', time.gmtime(remaining)) if remaining == remaining else '?'
        return f'{self.count}/{self.total} frames, {fps:.1f} fps, ETA {eta}'

    def close(self) -> None:
        if self.count:
            self._stream.write('\r' + self.describe() + '\n')
            self._stream.flush()

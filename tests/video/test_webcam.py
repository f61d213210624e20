"""Webcams: opening errors, and the live-stream behaviour on a stand-in camera."""
import numpy as np
import pytest

from vmem.video import CorruptFrameWarning, VideoReadError, WebcamSource, open_video
from vmem.video import webcam as webcam_module


@pytest.mark.parametrize('index', [99, '99'])
def test_missing_camera_gives_a_clear_error(index):
    with pytest.raises(VideoReadError, match='webcam 99'):
        open_video(index)


@pytest.mark.parametrize('index', [-1, 1.0, True])
def test_bad_camera_index_is_rejected(index):
    with pytest.raises((ValueError, TypeError)):
        WebcamSource(index=index)


class StandInCapture:
    """Delivers frames for the given read results (True: a frame), then nothing."""

    def __init__(self, results):
        self.results = list(results)
        self.released = False

    def isOpened(self):
        return True

    def get(self, prop):
        return {webcam_module.cv2.CAP_PROP_FPS: 30.0, webcam_module.cv2.CAP_PROP_FRAME_WIDTH: 8,
                webcam_module.cv2.CAP_PROP_FRAME_HEIGHT: 6}.get(prop, 0.0)

    def read(self):
        if self.results and self.results.pop(0):
            frame = np.zeros((6, 8, 3), np.uint8)
            frame[..., 2] = 255  # BGR red
            return True, frame
        return False, None

    def release(self):
        self.released = True


def test_live_stream_has_no_length_and_survives_dropped_frames(monkeypatch):
    capture = StandInCapture([True, False, True, True] + [False] * 10)
    monkeypatch.setattr(webcam_module.cv2, 'VideoCapture', lambda index: capture)
    with open_video('0') as source:
        assert source.name == 'webcam 0' and source.num_frames is None and not source.seekable
        assert (source.height, source.width, source.fps) == (6, 8, 30.0)
        assert bool(source)
        with pytest.raises(TypeError, match='no length'):
            len(source)
        with pytest.raises(TypeError, match='not seekable'):
            source.read(0)
        with pytest.warns(CorruptFrameWarning):
            frames = list(source)
    # One dropped frame is tolerated; five failed reads in a row end the stream.
    assert len(frames) == 3 and frames[0][0, 0].tolist() == [255, 0, 0]
    assert source.num_skipped == 1 + 5
    assert capture.released

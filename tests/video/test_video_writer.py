"""VideoWriter: round trip, frame checks, parent folders."""
import re

import numpy as np
import pytest

from vmem.video import VideoWriter, open_video


def gradient_frame(width: int, height: int, shift: int) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.float32)
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = (x[None, :] + shift) % 256
    frame[..., 1] = 100
    return frame


def test_round_trip_creates_folders_and_keeps_rgb(tmp_path):
    path = tmp_path / 'new' / 'nested' / 'out.mp4'
    with VideoWriter(path, fps=12, frame_size=(32, 24)) as writer:
        for shift in range(5):
            writer.write(gradient_frame(32, 24, 10 * shift))
        assert writer.num_written == 5
    with open_video(path, backend='opencv') as source:
        frames = list(source)
        assert (source.num_frames, source.width, source.height) == (5, 32, 24)
        assert source.fps == pytest.approx(12)
    # Channel 1 was constant 100 and channel 2 zero: a BGR/RGB mix-up would show here.
    assert abs(frames[2][..., 1].mean() - 100) < 6 and frames[2][..., 2].mean() < 8


def test_frame_size_is_taken_from_the_first_frame(tmp_path):
    path = tmp_path / 'auto.mp4'
    with VideoWriter(path, fps=5) as writer:
        writer.write(gradient_frame(16, 16, 0))
        assert writer.frame_size == (16, 16)
        with pytest.raises(ValueError, match='expected 16x16'):
            writer.write(gradient_frame(32, 16, 0))
    assert path.stat().st_size > 0


def test_bad_frames_give_errors_naming_the_file(tmp_path):
    path = tmp_path / 'checked.mp4'
    with VideoWriter(path, fps=5, frame_size=(16, 8)) as writer:
        with pytest.raises(ValueError, match=re.escape(str(path)) + '.*8x16'):
            writer.write(gradient_frame(8, 16, 0))
        with pytest.raises(TypeError, match='uint8'):
            writer.write(gradient_frame(16, 8, 0).astype(np.float32))
        with pytest.raises(ValueError, match='shape'):
            writer.write(np.zeros((8, 16), np.uint8))
        with pytest.raises(TypeError, match='numpy'):
            writer.write([[0, 0, 0]])
        assert writer.num_written == 0
    with pytest.raises(ValueError, match='closed'):
        writer.write(gradient_frame(16, 8, 0))


@pytest.mark.parametrize('kwargs', [dict(fps=0), dict(fps=10, frame_size=(0, 8)), dict(fps=10, frame_size=(8,))])
def test_bad_settings_are_rejected(tmp_path, kwargs):
    with pytest.raises(ValueError):
        VideoWriter(tmp_path / 'x.mp4', **kwargs)

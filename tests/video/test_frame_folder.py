"""Frame folders, image lists, single images and read_image."""
import re

import cv2
import numpy as np
import pytest

from vmem.video import (CorruptFrameWarning, ImageSequenceSource, VideoReadError, natural_sort_key, open_video,
                        read_image, write_image)


def solid(value: int, size=(12, 16)) -> np.ndarray:
    frame = np.zeros((*size, 3), np.uint8)
    frame[..., 0] = value  # the red channel tells the frames apart
    return frame


def red_values(frames) -> list[int]:
    return [int(frame[0, 0, 0]) for frame in frames]


@pytest.fixture
def frame_folder(tmp_path):
    folder = tmp_path / 'frames'
    # Written out of order, with mixed extensions and a file that is not an image.
    for number, ext in [(10, '.png'), (2, '.jpg'), (1, '.PNG'), (33, '.bmp'), (3, '.jpeg')]:
        write_image(folder / f'frame_{number}{ext}', solid(number * 5))
    (folder / 'notes.txt').write_text('not a frame')
    return folder


def test_folder_frames_come_in_natural_order(frame_folder):
    with open_video(frame_folder, fps=25) as source:
        assert isinstance(source, ImageSequenceSource)
        assert (source.num_frames, source.height, source.width, source.fps) == (5, 12, 16, 25.0)
        assert source.seekable and source.name == str(frame_folder)
        frames = list(source)
        assert source.num_skipped == 0
        np.testing.assert_array_equal(source.read(-1), frames[-1])
    # JPEG is lossy, hence the tolerance.
    assert red_values(frames) == pytest.approx([5, 10, 15, 50, 165], abs=3)


def test_natural_sort_key_orders_numbers_by_value():
    names = ['frame_10.png', 'frame_2.png', 'Frame_1.png', 'frame_2b.png', 'a.png']
    assert sorted(names, key=natural_sort_key) == ['a.png', 'Frame_1.png', 'frame_2.png', 'frame_2b.png',
                                                   'frame_10.png']


def test_image_list_keeps_the_given_order(tmp_path):
    paths = []
    for value in (90, 30, 60):
        paths.append(tmp_path / f'{value}.png')
        write_image(paths[-1], solid(value))
    with open_video([str(paths[0]), paths[1], paths[2]]) as source:
        assert red_values(source) == [90, 30, 60]
        assert source.fps is None


def test_single_image_is_a_one_frame_source(tmp_path):
    path = tmp_path / 'still.png'
    write_image(path, solid(77, size=(5, 7)))
    with open_video(path) as source:
        assert (len(source), source.height, source.width) == (1, 5, 7)
        assert red_values(source) == [77]


def test_corrupt_image_is_skipped_counted_and_named(frame_folder):
    bad = frame_folder / 'frame_3.jpeg'
    bad.write_bytes(b'\xff\xd8\xff\xe0 truncated jpeg')
    with open_video(frame_folder) as source:
        with pytest.warns(CorruptFrameWarning, match=re.escape(str(bad))):
            frames = list(source)
        assert source.num_skipped == 1 and source.num_frames == 5
        assert red_values(frames) == pytest.approx([5, 10, 50, 165], abs=3)
        with pytest.raises(VideoReadError, match=re.escape(str(bad))):
            source.read(2)


def test_size_comes_from_the_first_readable_image(tmp_path):
    (tmp_path / 'a_1.png').write_bytes(b'garbage')
    write_image(tmp_path / 'a_2.png', solid(1, size=(9, 4)))
    with open_video(tmp_path) as source:
        assert (source.height, source.width) == (9, 4)


def test_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing_dir'):
        open_video(tmp_path / 'missing_dir')
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'readme.txt').write_text('no images here')
    with pytest.raises(VideoReadError, match=re.escape(str(empty))):
        open_video(empty)
    (tmp_path / 'x.png').write_bytes(b'not a png')
    with pytest.raises(VideoReadError, match='x.png'):
        open_video([tmp_path / 'x.png'])


def test_image_list_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='gone.png'):
        open_video([tmp_path / 'gone.png'])
    with pytest.raises(ValueError, match='at least one'):
        open_video([])
    with pytest.raises(TypeError, match='list'):
        ImageSequenceSource(paths=str(tmp_path))
    with pytest.raises(ValueError, match='fps'):
        open_video([tmp_path / 'gone.png'], fps=0)


def test_fps_is_refused_for_videos_and_webcams(tmp_path):
    with pytest.raises(ValueError, match='fps'):
        open_video(tmp_path / 'clip.mp4', fps=30)
    with pytest.raises(ValueError, match='fps'):
        open_video(0, fps=30)


def test_read_image_returns_rgb(tmp_path):
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 2] = 200  # red, in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / 'red.png'), bgr)
    rgb = read_image(tmp_path / 'red.png')
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [200, 0, 0]


def test_read_image_turns_grey_into_three_channels(tmp_path):
    cv2.imwrite(str(tmp_path / 'grey.png'), np.full((3, 5), 120, np.uint8))
    assert read_image(tmp_path / 'grey.png')[1, 1].tolist() == [120, 120, 120]


def test_read_image_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.jpg'):
        read_image(tmp_path / 'absent.jpg')
    (tmp_path / 'empty.jpg').write_bytes(b'')
    with pytest.raises(VideoReadError, match='empty.jpg'):
        read_image(tmp_path / 'empty.jpg')

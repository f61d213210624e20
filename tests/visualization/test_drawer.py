"""DetectionDrawer and the colour palette: what is drawn where, and what is not."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from vmem.visualization import DetectionDrawer, color_for

HEIGHT, WIDTH = 120, 160
BOX = [40.0, 50.0, 100.0, 100.0]  # far enough below the top for the caption to sit above it


def grey_frame():
    return np.full((HEIGHT, WIDTH, 3), 100, np.uint8)


def one_box(score=0.9, label=0, **extra):
    return dict(bboxes=torch.tensor([BOX]), scores=torch.tensor([score]), labels=torch.tensor([label]), **extra)


def changed(before, after):
    return np.any(before != after, axis=2)


def test_colours_are_stable_across_processes_and_distinct_for_neighbours():
    colours = [color_for(index) for index in range(20)]
    assert colours == [color_for(index) for index in range(20)]
    assert all(isinstance(c, tuple) and len(c) == 3 and all(0 <= v <= 255 for v in c) for c in colours)
    in_another_process = subprocess.run(
        [sys.executable, '-c', 'from vmem.visualization import color_for; print([color_for(i) for i in range(20)])'],
        capture_output=True, text=True, check=True).stdout.strip()
    assert in_another_process == str(colours)
    for first, second in zip(colours, colours[1:]):
        assert sum(abs(a - b) for a, b in zip(first, second)) > 100
    assert color_for(np.int64(3)) == color_for(3)
    with pytest.raises(TypeError):
        color_for(1.5)


def test_a_box_outlines_its_corners_and_leaves_far_pixels_alone():
    frame = grey_frame()
    drawn = DetectionDrawer(class_names=['car'], line_width=2).draw(frame, one_box())
    assert drawn is not frame and drawn.shape == frame.shape and drawn.dtype == np.uint8
    assert (frame == 100).all()  # the input is untouched
    diff = changed(frame, drawn)
    x1, y1, x2, y2 = map(int, BOX)
    assert diff[(y1 + y2) // 2, x1] and diff[(y1 + y2) // 2, x2] and diff[y2, (x1 + x2) // 2]
    assert tuple(drawn[(y1 + y2) // 2, x1]) == color_for(0)  # box in its class colour (RGB order)
    assert diff[y1 - 3, x1 + 2]  # the caption above the box
    assert not diff[(y1 + y2) // 2, (x1 + x2) // 2]  # the inside, without a mask
    assert not diff[HEIGHT - 5:, :].any() and not diff[:, WIDTH - 30:].any()


def test_instances_below_the_threshold_are_not_drawn_and_all_are_without_scores():
    frame = grey_frame()
    drawer = DetectionDrawer(score_thr=0.5)
    assert (drawer.draw(frame, one_box(score=0.4)) == frame).all()
    assert changed(frame, drawer.draw(frame, one_box(score=0.5))).any()
    assert changed(frame, drawer.draw(frame, dict(bboxes=np.array([BOX]), labels=np.array([0])))).any()
    empty = dict(bboxes=torch.zeros(0, 4), scores=torch.zeros(0), labels=torch.zeros(0, dtype=torch.long))
    assert (drawer.draw(frame, empty) == frame).all()


def test_track_ids_choose_the_colour():
    frame = grey_frame()
    drawer = DetectionDrawer(line_width=2)
    x1, y1, _, y2 = map(int, BOX)
    by_label = drawer.draw(frame, one_box(label=1))
    by_id = drawer.draw(frame, one_box(label=1, instance_ids=torch.tensor([7])))
    same_id_other_class = drawer.draw(frame, one_box(label=2, instance_ids=torch.tensor([7])))
    assert tuple(by_label[(y1 + y2) // 2, x1]) == color_for(1)
    assert tuple(by_id[(y1 + y2) // 2, x1]) == color_for(7) == tuple(same_id_other_class[(y1 + y2) // 2, x1])


def test_masks_are_blended_in_the_instance_colour():
    frame = grey_frame()
    mask = np.zeros((1, HEIGHT, WIDTH), bool)
    mask[0, 60:90, 50:90] = True
    drawn = DetectionDrawer(mask_alpha=0.5).draw(frame, one_box(masks=torch.from_numpy(mask)))
    expected = np.round(0.5 * 100 + 0.5 * np.array(color_for(0)))
    assert np.abs(drawn[75, 70].astype(float) - expected).max() <= 1
    assert (drawn[5, 5] == 100).all()
    with pytest.raises(ValueError, match='masks'):
        DetectionDrawer().draw(frame, one_box(masks=np.zeros((1, 10, 10), bool)))


def test_tensors_numpy_and_instance_data_draw_the_same():
    frame = grey_frame()
    drawer = DetectionDrawer(class_names=['car'])
    from_tensors = drawer.draw(frame, one_box())
    from_numpy = drawer.draw(frame, dict(bboxes=np.array([BOX]), scores=np.array([0.9]), labels=np.array([0])))
    from_instance_data = drawer.draw(frame, InstanceData(**one_box()))
    assert (from_tensors == from_numpy).all() and (from_tensors == from_instance_data).all()


def test_boxes_are_clipped_and_captions_stay_on_the_frame():
    frame = grey_frame()
    drawer = DetectionDrawer(line_width=1)
    drawn = drawer.draw(frame, dict(bboxes=np.array([[-20.0, -20.0, 500.0, 40.0]]), labels=np.array([3])))
    diff = changed(frame, drawn)
    assert diff[39, 80] and diff[20, 0] and diff[20, WIDTH - 1]  # edges of the clipped box
    assert diff[2, 2]  # caption inside the box at the top edge
    assert not diff[80:, :].any()
    # a narrow box at the right edge: its caption is shifted left rather than cut off
    drawn = drawer.draw(frame, dict(bboxes=np.array([[150.0, 60.0, 159.0, 100.0]]), labels=np.array([3])))
    caption_row = changed(frame, drawn)[55]
    assert caption_row[WIDTH - 1] and caption_row[:150].any()
    # a box wholly outside the frame draws nothing
    outside = dict(bboxes=np.array([[200.0, 10.0, 300.0, 50.0]]), labels=np.array([3]))
    assert (drawer.draw(frame, outside) == frame).all()


def test_banner_darkens_the_top_left_corner_only():
    frame = grey_frame()
    drawn = DetectionDrawer().draw_banner(frame, '25.0 fps')
    assert (frame == 100).all()
    assert (drawn[1, 1] < 100).all() and (drawn[HEIGHT - 1, WIDTH - 1] == 100).all()


@pytest.mark.parametrize('frame, problem', [
    (np.zeros((10, 10), np.uint8), 'shape'),
    (np.zeros((10, 10, 4), np.uint8), 'shape'),
    (np.zeros((10, 10, 3), np.float32), 'dtype'),
])
def test_bad_frames_are_refused_naming_the_problem(frame, problem):
    with pytest.raises(ValueError, match=problem):
        DetectionDrawer().draw(frame, one_box())


@pytest.mark.parametrize('kwargs, name', [
    (dict(score_thr=1.5), 'score_thr'), (dict(line_width=0), 'line_width'),
    (dict(mask_alpha=-0.1), 'mask_alpha'), (dict(class_names='car'), 'class_names'),
])
def test_bad_arguments_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DetectionDrawer(**kwargs)


def test_importing_visualization_does_not_import_models_or_apis():
    code = ('import sys, vmem.visualization; '
            'print(sorted(m for m in sys.modules if m.startswith(("vmem.models", "vmem.apis"))))')
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          check=True).stdout.strip() == '[]'

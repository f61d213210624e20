"""SAM2VideoPredictor and StreamingTracker on a tiny random-weight tracker."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vmem.apis import SAM2VideoPredictor, StreamingTracker, init_model

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'sam2' / 'sam2_tiny_synthvid.py'
HEIGHT, WIDTH, FRAMES = 96, 128, 6


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(str(CONFIG), None, device='cpu')


@pytest.fixture(scope='module')
def frame_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp('frames')
    for t in range(FRAMES):
        image = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
        image[20:50, 10 + 5 * t:40 + 5 * t] = (230, 40, 40)
        cv2.imwrite(str(folder / f'{t:05d}.jpg'), image[..., ::-1])
    return folder


def test_video_predictor_workflow(model, frame_folder):
    predictor = SAM2VideoPredictor(model)
    state = predictor.init_state(str(frame_folder))
    assert state.source.num_frames == FRAMES and state.original_size == (HEIGHT, WIDTH)
    first = predictor.add_new_points_or_box(state, 2, 1, box=[20, 20, 50, 50])
    assert first.frame_idx == 2 and first.object_ids == [1] and first.masks.shape == (1, HEIGHT, WIDTH)
    # further clicks on the frame add to the box unless cleared
    predictor.add_new_points_or_box(state, 2, 1, points=[[30, 30]], labels=[1], clear_old_points=False)
    assert state.prompts[2][1].box is not None and state.prompts[2][1].points.shape == (1, 2)
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[60:90, 80:120] = True
    shown = predictor.add_new_mask(state, 4, 2, mask)
    assert torch.equal(shown.masks[0], torch.from_numpy(mask))       # a mask prompt comes back as given
    assert shown.boxes[0].tolist() == [80.0, 60.0, 120.0, 90.0]

    forward = list(predictor.propagate_in_video(state))
    assert [r.frame_idx for r in forward] == [2, 3, 4, 5]
    assert all(r.object_ids == [1, 2] for r in forward)
    assert torch.equal(forward[2].masks[1], torch.from_numpy(mask))  # frame 4 keeps its prompt
    backward = list(predictor.propagate_in_video(state, reverse=True, max_frame_num_to_track=2))
    assert [r.frame_idx for r in backward] == [4, 3, 2]
    limited = list(predictor.propagate_in_video(state, start_frame_idx=0, max_frame_num_to_track=1))
    assert [r.frame_idx for r in limited] == [0, 1]
    # memory stays bounded per object: prompts + the configured ring
    maps, _ = state.stream.memory.entries(1)
    assert len(maps) <= 1 + model.memory_cfg['num_recent_maps']

    predictor.remove_object(state, 2)
    assert state.object_ids == [1] and state.stream.memory.object_ids == [1]
    with pytest.raises(KeyError, match='object id 2 does not exist'):
        predictor.remove_object(state, 2)
    predictor.reset_state(state)
    with pytest.raises(RuntimeError, match='no object has prompts'):
        next(predictor.propagate_in_video(state))


def test_video_predictor_bad_prompts(model, frame_folder):
    predictor = SAM2VideoPredictor(model)
    state = predictor.init_state(str(frame_folder))
    with pytest.raises(ValueError, match=r'outside the 128x96 frame'):
        predictor.add_new_points_or_box(state, 0, 1, points=[[500, 10]])
    with pytest.raises(ValueError, match='x1 < x2'):
        predictor.add_new_points_or_box(state, 0, 1, box=[50, 10, 20, 40])
    with pytest.raises(ValueError, match='the mask is empty'):
        predictor.add_new_mask(state, 0, 1, np.zeros((HEIGHT, WIDTH), bool))
    with pytest.raises(ValueError, match=r'the mask is \[10, 10\]'):
        predictor.add_new_mask(state, 0, 1, np.ones((10, 10), bool))
    with pytest.raises(ValueError, match='give points, a box or a mask'):
        predictor.add_new_points_or_box(state, 0, 1)
    with pytest.raises(IndexError, match='outside the video'):
        predictor.add_new_points_or_box(state, FRAMES, 1, box=[1, 1, 5, 5])


def test_streaming_tracker(model, frame_folder):
    from vmem.video import open_video
    tracker = StreamingTracker(model)
    with open_video(str(frame_folder)) as frames:
        results = [tracker.track(frame, boxes={7: [10, 20, 40, 50]} if i == 0 else None,
                                 points={9: ([[100, 70]], [1])} if i == 3 else None)
                   for i, frame in enumerate(frames)]
    assert [r.object_ids for r in results] == [[7], [7], [7], [7, 9], [7, 9], [7, 9]]
    assert results[-1].masks.shape == (2, HEIGHT, WIDTH) and results[-1].scores.shape == (2,)
    with pytest.raises(ValueError, match='stream started at'):
        tracker.track(np.zeros((10, 10, 3), np.uint8))
    tracker.remove_object(9)
    assert tracker.object_ids == [7]
    tracker.reset()
    assert tracker.object_ids == [] and tracker.track(np.zeros((10, 10, 3), np.uint8)).object_ids == []


def test_official_checkpoint_converts_and_loads(model, tmp_path):
    sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))
    import sam2_to_vmem
    from vmem.models.trackers.sam2.checkpoint import vmem_to_official_key
    official = {vmem_to_official_key(k): v + 0.5 for k, v in model.network.state_dict().items()}
    torch.save({'model': official}, tmp_path / 'official.pt')
    assert sam2_to_vmem.main([str(tmp_path / 'official.pt'), str(tmp_path / 'vmem.pth')]) == 0
    loaded = init_model(str(CONFIG), str(tmp_path / 'vmem.pth'), device='cpu')
    assert torch.equal(loaded.network.no_obj_ptr, model.network.no_obj_ptr + 0.5)
    model.load_official(tmp_path / 'official.pt')   # the direct route
    assert torch.equal(model.network.no_obj_ptr, loaded.network.no_obj_ptr)
    torch.save({'model': {'image_encoder.trunk.pos_embed': torch.zeros(1)}}, tmp_path / 'bad.pt')
    assert sam2_to_vmem.main([str(tmp_path / 'missing.pt'), str(tmp_path / 'x.pth')]) == 1
    with pytest.raises(ValueError, match='missing keys'):
        model.load_official(tmp_path / 'bad.pt')


def test_streaming_state_does_not_grow_with_the_stream(model):
    tracker = StreamingTracker(model)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    tracker.track(frame, boxes={1: [10, 10, 60, 60]})
    sizes = []
    for _ in range(12):
        tracker.track(frame)
        sizes.append((tracker.state.memory.nbytes(), len(tracker.state.frames_done[1]),
                      len(tracker.state.last_logits[1])))
    assert len(set(sizes[8:])) == 1 and sizes[-1][1:] == (1, 1)

"""demo/video_demo.py on a generated mp4, a frame folder and a stand-in webcam; its
one-line errors for bad input; Ctrl-C leaves a playable video."""
import importlib.util
import json
import sys

import numpy as np
import pytest
import torch

from tool_runner import ROOT, run_tool
from vmem.datasets.synthetic import generate_synthvid
from vmem.video import VideoWriter, open_video
from vmem.video import webcam as webcam_module
from vmem.visualization import DetectionDrawer

BASELINE = str(ROOT / 'configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py')
MAMBA = str(ROOT / 'configs/mamba/mamba_r10t_synthvid_tiny.py')
# Random weights score around 1/9; a low threshold makes the demo draw them.
LOW_THR = ['--score-thr', '0.05']


def load_demo():
    spec = importlib.util.spec_from_file_location('video_demo', ROOT / 'demo' / 'video_demo.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


demo = load_demo()


@pytest.fixture(scope='module')
def synthvid(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid')
    generate_synthvid(root, split='test', num_videos=1, num_frames=6, width=96, height=64, write_videos=True)
    return root


@pytest.fixture(scope='module')
def mamba_checkpoint(tmp_path_factory):
    from vmem.apis.model_init import init_model
    path = tmp_path_factory.mktemp('ckpt') / 'mamba.pth'
    torch.manual_seed(0)
    torch.save({'state_dict': init_model(MAMBA).state_dict(),
                'meta': {'dataset_meta': {'classes': tuple(f'thing{i}' for i in range(8))}}}, path)
    return str(path)


def frames_of(path):
    with open_video(path) as source:
        return list(source)


def test_demo_on_an_mp4_writes_every_frame_with_detections_drawn(synthvid, mamba_checkpoint, tmp_path, capsys):
    video = synthvid / 'test' / 'videos' / 'test_00000.mp4'
    out = tmp_path / 'out' / 'drawn.mp4'
    assert demo.main([str(video), MAMBA, mamba_checkpoint, '--out', str(out), *LOW_THR]) == 0
    written, source = frames_of(out), frames_of(video)
    assert len(written) == 6 and written[0].shape == (64, 96, 3)
    # boxes were drawn: the output differs from the input by more than codec noise
    assert np.abs(written[3].astype(int) - source[3].astype(int)).max() > 100
    captured = capsys.readouterr()
    assert '6/6 frames' in captured.err and 'ETA' in captured.err  # the progress line
    assert '6 frames written' in captured.out


def test_demo_on_a_frame_folder_respects_max_frames(synthvid, tmp_path):
    out = tmp_path / 'folder.mp4'
    folder = synthvid / 'test' / 'frames' / 'test_00000'
    assert demo.main([str(folder), BASELINE, '--out', str(out), '--max-frames', '4']) == 0
    written = frames_of(out)
    assert len(written) == 4 and written[0].shape == (64, 96, 3)


class StandInCamera:
    """Delivers ``count`` frames of 80x60, then nothing."""

    def __init__(self, count):
        self.remaining = count

    def isOpened(self):
        return True

    def get(self, prop):
        return {webcam_module.cv2.CAP_PROP_FPS: 0.0, webcam_module.cv2.CAP_PROP_FRAME_WIDTH: 80,
                webcam_module.cv2.CAP_PROP_FRAME_HEIGHT: 60}.get(prop, 0.0)

    def read(self):
        if self.remaining <= 0:
            return False, None
        self.remaining -= 1
        return True, np.full((60, 80, 3), 40 * self.remaining % 255, np.uint8)

    def release(self):
        pass


def test_webcam_mode_streams_until_the_camera_stops(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(webcam_module.cv2, 'VideoCapture', lambda index: StandInCamera(7))
    out = tmp_path / 'webcam.mp4'
    assert demo.main(['0', MAMBA, '--out', str(out)]) == 0
    written = frames_of(out)
    assert len(written) == 7 and written[0].shape == (60, 80, 3)
    assert 'fps' in capsys.readouterr().err  # the live counter, no ETA for a live stream


def test_ctrl_c_leaves_a_playable_video_of_the_frames_so_far(synthvid, monkeypatch, tmp_path, capsys):
    draw = DetectionDrawer.draw
    calls = []

    def interrupt_at_the_fourth_frame(self, frame, instances):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return draw(self, frame, instances)

    monkeypatch.setattr(DetectionDrawer, 'draw', interrupt_at_the_fourth_frame)
    out = tmp_path / 'interrupted.mp4'
    video = synthvid / 'test' / 'videos' / 'test_00000.mp4'
    assert demo.main([str(video), BASELINE, '--out', str(out)]) == demo.INTERRUPTED
    assert len(frames_of(out)) == 3
    assert 'interrupted after 3 frames' in capsys.readouterr().err


@pytest.mark.parametrize('case', ['missing source', 'no camera', 'unwritable output', 'not an mp4',
                                  'checkpoint of another config', 'missing config'])
def test_bad_input_gives_one_line_and_a_nonzero_exit(case, synthvid, mamba_checkpoint, tmp_path, monkeypatch,
                                                     capsys):
    video = str(synthvid / 'test' / 'videos' / 'test_00000.mp4')
    out = str(tmp_path / 'out.mp4')
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    argv, expected = {
        'missing source': ([str(tmp_path / 'absent.mp4'), BASELINE, '--out', out], 'absent.mp4'),
        'no camera': (['3', BASELINE, '--out', out], 'webcam 3'),
        'unwritable output': ([video, BASELINE, '--out', str(blocker / 'out.mp4')], 'a_file'),
        'not an mp4': ([video, BASELINE, '--out', str(tmp_path / 'out.avi')], '.mp4'),
        'checkpoint of another config': ([video, BASELINE, mamba_checkpoint, '--out', out], 'does not match'),
        'missing config': ([video, str(tmp_path / 'absent.py'), '--out', out], 'absent.py'),
    }[case]
    if case == 'no camera':
        class Closed:
            def isOpened(self):
                return False

            def release(self):
                pass
        monkeypatch.setattr(webcam_module.cv2, 'VideoCapture', lambda index: Closed())
    assert demo.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('video_demo.py: error:') and expected in err[0]


def test_the_command_line_exits_nonzero_without_a_traceback(tmp_path):
    result = run_tool('demo/video_demo.py', tmp_path / 'absent.mp4', BASELINE, '--out', tmp_path / 'o.mp4',
                      expect_ok=False)
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr and 'absent.mp4' in result.stderr
    result = run_tool('demo/video_demo.py', tmp_path / 'absent.mp4', BASELINE, expect_ok=False)
    assert result.returncode == 2 and 'give --out' in result.stderr  # argparse: nothing to do


def test_a_video_file_round_trips_through_the_writer(tmp_path):
    # guards the assumption the tests above rest on: the writer's mp4s read back whole
    path = tmp_path / 'plain.mp4'
    with VideoWriter(path, fps=10) as writer:
        for value in range(5):
            writer.write(np.full((48, 64, 3), value * 40, np.uint8))
    assert len(frames_of(path)) == 5


# --- tracking objects given by boxes on the first frame (SAM 2-style tracker) -------------
SAM2 = str(ROOT / 'configs/sam2/sam2_tiny_synthvid.py')
# The drawn objects depend on random weights; the tests check what the demo controls.
ALL_PRESENT = ['--score-thr', '0']


@pytest.fixture
def track_calls(monkeypatch):
    """The boxes StreamingTracker.track was given, one entry per frame."""
    from vmem.apis.sam2_predictor import StreamingTracker
    track, calls = StreamingTracker.track, []

    def recording_track(self, frame, **prompts):
        calls.append(prompts.get('boxes'))
        return track(self, frame, **prompts)

    monkeypatch.setattr(StreamingTracker, 'track', recording_track)
    return calls


def test_a_tracker_follows_prompt_boxes_through_an_mp4(synthvid, track_calls, tmp_path, capsys):
    video = synthvid / 'test' / 'videos' / 'test_00000.mp4'
    out = tmp_path / 'tracked.mp4'
    argv = [str(video), SAM2, '--out', str(out), '--prompt-box', '10,10,40,40', '--prompt-box', '50.5,20,90,60']
    assert demo.main(argv + ALL_PRESENT) == 0
    written = frames_of(out)
    assert len(written) == 6 and written[0].shape == (64, 96, 3)
    # ids 1, 2 in the order given, prompted on the first frame only
    assert track_calls == [{1: [10.0, 10.0, 40.0, 40.0], 2: [50.5, 20.0, 90.0, 60.0]}] + [None] * 5
    captured = capsys.readouterr()
    assert '6/6 frames' in captured.err and '6 frames written' in captured.out


@pytest.mark.parametrize('prompts, ids', [
    ([[10, 10, 40, 40], [50, 20, 90, 60]], [1, 2]),
    ({'3': [10, 10, 40, 40], '8': [50, 20, 90, 60.5]}, [3, 8]),
])
def test_prompts_json_gives_a_list_of_boxes_or_ids_and_boxes(prompts, ids, synthvid, track_calls, tmp_path):
    path = tmp_path / 'prompts.json'
    path.write_text(json.dumps(prompts))
    out = tmp_path / 'tracked.mp4'
    folder = synthvid / 'test' / 'frames' / 'test_00000'
    assert demo.main([str(folder), SAM2, '--out', str(out), '--prompts', str(path), '--max-frames', '3']) == 0
    assert len(frames_of(out)) == 3 and len(track_calls) == 3
    boxes = list(prompts.values()) if isinstance(prompts, dict) else prompts
    assert track_calls[0] == {i: [float(v) for v in box] for i, box in zip(ids, boxes)}


def test_tracked_objects_are_drawn_by_id_and_objects_not_in_view_left_out():
    from demo.box_tracking import tracked_instances  # importable once the demo put the checkout on sys.path
    from vmem.apis.sam2_predictor import TrackResult
    from vmem.visualization import color_for
    masks = torch.zeros(3, 64, 96, dtype=torch.bool)
    masks[0, 30:50, 20:60] = True
    masks[2, 5:20, 70:90] = True  # object 9: present, but below the threshold
    result = TrackResult(frame_idx=4, object_ids=[5, 7, 9], masks=masks,
                         boxes=torch.tensor([[20.0, 30, 60, 50], [0, 0, 0, 0], [70, 5, 90, 20]]),
                         scores=torch.tensor([0.9, 0.8, 0.2]))
    instances = tracked_instances(result)
    assert instances['instance_ids'].tolist() == [5, 9]  # 7's mask is empty: out of view
    frame = np.full((64, 96, 3), 100, np.uint8)
    drawn = DetectionDrawer(score_thr=0.3, mask_alpha=1.0).draw(frame, instances)
    assert tuple(drawn[40, 40]) == color_for(5)  # mask in the id's colour
    assert (drawn[10, 80] == 100).all()  # object 9 scores below --score-thr


@pytest.mark.parametrize('case', ['malformed box', 'box outside the frame', 'json not boxes', 'json not json',
                                  'tracker without prompts', 'detector with prompts', 'both kinds of prompts'])
def test_bad_prompts_give_one_line_naming_the_problem(case, synthvid, tmp_path, capsys):
    video = str(synthvid / 'test' / 'videos' / 'test_00000.mp4')
    out = str(tmp_path / 'out.mp4')
    not_boxes = tmp_path / 'not_boxes.json'
    not_boxes.write_text('{"1": "a box"}')
    not_json = tmp_path / 'not_json.json'
    not_json.write_text('[[1, 2, 3, 4]')
    argv, expected = {
        'malformed box': ([video, SAM2, '--prompt-box', '1,2,3'], "--prompt-box '1,2,3': expected x1,y1,x2,y2"),
        'box outside the frame': ([video, SAM2, '--prompt-box', '10,10,200,40'], 'does not fit in the first frame'),
        'json not boxes': ([video, SAM2, '--prompts', str(not_boxes)], 'a box must be four numbers'),
        'json not json': ([video, SAM2, '--prompts', str(not_json)], 'not valid JSON'),
        'tracker without prompts': ([video, SAM2], 'add --prompt-box'),
        'detector with prompts': ([video, BASELINE, '--prompt-box', '1,1,9,9'], 'is not a tracker'),
        'both kinds of prompts': ([video, SAM2, '--prompt-box', '1,1,9,9', '--prompts', str(not_boxes)], 'not both'),
    }[case]
    assert demo.main(argv + ['--out', out]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('video_demo.py: error:') and expected in err[0]
    assert not (tmp_path / 'out.mp4').exists()  # refused before an empty video was started


def test_boxes_are_checked_on_the_first_frame_when_the_source_reports_no_size():
    from demo.box_tracking import start_tracking

    class SizelessSource(list):
        width = height = 0

    tracking = start_tracking(None, SizelessSource([np.zeros((64, 96, 3), np.uint8)]), boxes={4: [0, 0, 97, 10]})
    with pytest.raises(ValueError, match=r'object 4, \[0, 0, 97, 10\], does not fit in the first frame \(96x64'):
        next(tracking)


def test_demo_streams_a_camera_into_context_rcnn_memory(synthvid, tmp_path, capsys):
    video = synthvid / 'test' / 'videos' / 'test_00000.mp4'
    config = str(ROOT / 'configs/context_rcnn/context_rcnn_r10t_synthvid_tiny.py')
    out = tmp_path / 'camera.mp4'
    assert demo.main([str(video), config, '--out', str(out), '--camera', '3', '--start-time', '2024-06-01T08:00:00',
                      '--cfg-options', 'model.memory_file=None', 'model.roi_head.score_thr=0.0',
                      'model.camera_memory.score_thr=0.0']) == 0
    assert len(frames_of(out)) == 6
    with pytest.raises(SystemExit):
        demo.parse_args([str(video), config, '--out', str(out), '--start-time', '2024-06-01T08:00:00'])
    assert '--start-time needs --camera' in capsys.readouterr().err

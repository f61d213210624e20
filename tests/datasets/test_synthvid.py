"""SynthVID: determinism, the CocoVID schema, degradation bursts, motion spread, cache, CLI."""
import importlib.util
import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vmem.datasets.synthetic import (CLASS_NAMES, DEGRADATIONS, SynthVIDConfig, frames_dir,
                                     generate_synthvid, videos_dir)
from vmem.datasets.synthetic import generate as generate_module
from vmem.datasets.synthetic.render import make_camera_canvas

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(num_videos=4, num_frames=16, width=128, height=96, seed=3)
# Enough frames around each box for the +-10 frame motion IoU, and enough boxes for fractions.
MEDIUM = dict(num_videos=12, num_frames=40, width=128, height=96, seed=5, write_videos=False)


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp('synthvid_small')
    return out_dir, generate_synthvid(out_dir, split='train', **SMALL)


@pytest.fixture(scope='module')
def medium_set(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp('synthvid_medium')
    return json.loads(generate_synthvid(out_dir, split='val', **MEDIUM).read_text())


def frame_files(out_dir, split):
    return sorted(p.relative_to(out_dir) for p in frames_dir(out_dir, split).rglob('*.jpg'))


def tracks_by_instance(dataset):
    """instance_id -> {frame_id: annotation}."""
    frame_of = {image['id']: image['frame_id'] for image in dataset['images']}
    tracks = defaultdict(dict)
    for ann in dataset['annotations']:
        tracks[ann['instance_id']][frame_of[ann['image_id']]] = ann
    return tracks


def box_iou(a, b):
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_same_arguments_give_identical_files_and_splits_differ(small_set, tmp_path):
    out_dir, json_path = small_set
    again = generate_synthvid(tmp_path, split='train', **SMALL)
    assert again.read_bytes() == json_path.read_bytes()
    files = frame_files(out_dir, 'train')
    assert files == frame_files(tmp_path, 'train') and len(files) == 4 * 16
    for name in files:
        assert (out_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name

    val = json.loads(generate_synthvid(tmp_path, split='val', **SMALL).read_text())
    train = json.loads(json_path.read_text())
    assert {v['name'] for v in val['videos']}.isdisjoint(v['name'] for v in train['videos'])
    first_train = cv2.imread(str(out_dir / files[0]))
    first_val = cv2.imread(str(frames_dir(tmp_path, 'val') / val['images'][0]['file_name']))
    assert np.abs(first_train.astype(int) - first_val).mean() > 5
    assert [a['bbox'] for a in val['annotations']] != [a['bbox'] for a in train['annotations']]


@pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')  # pycocotools, numpy 2
def test_json_follows_the_cocovid_contract(small_set):
    out_dir, json_path = small_set
    dataset = json.loads(json_path.read_text())
    assert [c['name'] for c in dataset['categories']] == list(CLASS_NAMES)
    assert [c['id'] for c in dataset['categories']] == list(range(1, 9))
    assert dataset['info']['settings']['num_frames'] == 16
    videos = {v['id']: v for v in dataset['videos']}
    assert len(videos) == 4
    for video in videos.values():
        assert {'id', 'name', 'width', 'height', 'fps', 'camera', 'start_datetime'} <= set(video)
        assert 0 <= video['camera'] < SynthVIDConfig().num_cameras
    images = {image['id']: image for image in dataset['images']}
    assert len(images) == 4 * 16
    for image in images.values():
        assert {'id', 'video_id', 'frame_id', 'file_name', 'width', 'height', 'datetime'} <= set(image)
        video = videos[image['video_id']]
        expected = datetime.fromisoformat(video['start_datetime']) + timedelta(seconds=image['frame_id'] / 10)
        assert abs(datetime.fromisoformat(image['datetime']) - expected) < timedelta(milliseconds=2)
    first = images[1]
    assert cv2.imread(str(frames_dir(out_dir, 'train') / first['file_name'])).shape == (96, 128, 3)

    assert dataset['annotations']
    video_of_instance = {}
    for ann in dataset['annotations']:
        assert {'id', 'image_id', 'video_id', 'category_id', 'instance_id', 'bbox', 'area', 'iscrowd',
                'segmentation', 'degraded', 'degradation'} <= set(ann)
        assert ann['video_id'] == images[ann['image_id']]['video_id']
        assert video_of_instance.setdefault(ann['instance_id'], ann['video_id']) == ann['video_id']
        assert 1 <= ann['category_id'] <= 8 and ann['iscrowd'] == 0
        x, y, w, h = ann['bbox']
        assert w >= 1 and h >= 1 and x >= 0 and y >= 0 and x + w <= 128 and y + h <= 96
        assert ann['area'] == w * h
        assert ann['degraded'] == (ann['degradation'] != 'none')
        assert ann['degradation'] in DEGRADATIONS + ('none',)
        assert isinstance(ann['segmentation']['counts'], str)
        mask = mask_utils.decode(ann['segmentation'])
        assert mask.shape == (96, 128)
        outside = mask.copy()
        outside[y:y + h, x:x + w] = 0
        assert outside.sum() == 0
    assert len(set(video_of_instance.values())) == 4  # instance ids don't repeat across videos


def test_mp4_has_the_json_frame_count(small_set):
    out_dir, json_path = small_set
    dataset = json.loads(json_path.read_text())
    for video in dataset['videos']:
        capture = cv2.VideoCapture(str(videos_dir(out_dir, 'train') / f"{video['name']}.mp4"))
        count = 0
        while capture.read()[0]:
            count += 1
        capture.release()
        assert count == sum(image['video_id'] == video['id'] for image in dataset['images']) == 16


def test_degradations_come_in_bursts_at_the_requested_fraction(medium_set):
    annotations = medium_set['annotations']
    fraction = sum(a['degraded'] for a in annotations) / len(annotations)
    assert abs(fraction - 0.3) < 0.05
    assert {a['degradation'] for a in annotations} == set(DEGRADATIONS) | {'none'}
    bursts = []
    for track in tracks_by_instance(medium_set).values():
        run, kinds = 0, set()
        for frame_id in range(MEDIUM['num_frames'] + 1):
            ann = track.get(frame_id)
            if ann is not None and ann['degraded']:
                run, kinds = run + 1, kinds | {ann['degradation']}
            elif run:
                bursts.append(run)
                assert len(kinds) == 1  # one kind of degradation per burst
                run, kinds = 0, set()
    assert len(bursts) > 30 and min(bursts) >= 3 and max(bursts) <= 10


def test_slow_medium_and_fast_motion_all_occur(medium_set):
    # ImageNet VID's groups: mean IoU of a box with the same object's boxes 10 frames away.
    groups = defaultdict(int)
    for track in tracks_by_instance(medium_set).values():
        for frame_id, ann in track.items():
            ious = [box_iou(ann['bbox'], track[f]['bbox']) for f in (frame_id - 10, frame_id + 10)
                    if f in track]
            if ious:
                score = float(np.mean(ious))
                groups['slow' if score > 0.9 else 'fast' if score < 0.7 else 'medium'] += 1
    total = sum(groups.values())
    assert total > 500
    for name in ('slow', 'medium', 'fast'):
        assert groups[name] / total >= 0.1, dict(groups)


def test_objects_leave_and_reenter_with_clipped_boxes(medium_set):
    tracks = tracks_by_instance(medium_set).values()
    reentered = [t for t in tracks if np.any(np.diff(sorted(t)) > 1)]
    assert reentered
    boxes = [a['bbox'] for a in medium_set['annotations']]
    assert any(x == 0 or x + w == 128 for x, _, w, _ in boxes)


def test_each_video_is_a_window_on_its_cameras_background(tmp_path):
    # Per-camera long-term memory relies on a camera looking alike across videos.
    config = SynthVIDConfig(**{**MEDIUM, 'num_frames': 1, 'objects_per_video': (1, 1)})
    dataset = json.loads(generate_synthvid(tmp_path, split='val', config=config).read_text())
    canvases = [make_camera_canvas(config, camera).astype(np.float32) for camera in range(config.num_cameras)]
    for video in dataset['videos']:
        frame = cv2.imread(str(frames_dir(tmp_path, 'val') / video['name'] / '000000.jpg'))[..., ::-1]
        scores = [cv2.matchTemplate(canvas, frame.astype(np.float32), cv2.TM_CCOEFF_NORMED).max()
                  for canvas in canvases]
        others = np.delete(scores, video['camera'])
        assert scores[video['camera']] > max(0.4, 2 * others.max()), scores


def test_cache_skips_identical_settings_and_regenerates_changed_ones(tmp_path, monkeypatch):
    settings = dict(SMALL, num_videos=2, num_frames=4)
    json_path = generate_synthvid(tmp_path, split='test', **settings)
    stamp = json_path.stat().st_mtime_ns

    def must_not_render(*args, **kwargs):
        raise AssertionError('rendered again although the split was up to date')

    with monkeypatch.context() as patch:
        patch.setattr(generate_module, 'render_video', must_not_render)
        assert generate_synthvid(tmp_path, split='test', **settings) == json_path
    assert json_path.stat().st_mtime_ns == stamp

    generate_synthvid(tmp_path, split='test', **{**settings, 'num_frames': 6})
    assert len(json.loads(json_path.read_text())['images']) == 2 * 6
    # A missing frame also makes the split stale.
    (frames_dir(tmp_path, 'test') / 'test_00000' / '000003.jpg').unlink()
    generate_synthvid(tmp_path, split='test', **{**settings, 'num_frames': 6})
    assert (frames_dir(tmp_path, 'test') / 'test_00000' / '000003.jpg').is_file()


def test_knobs_change_the_content(tmp_path):
    clean = json.loads(generate_synthvid(tmp_path, split='a', **SMALL, degraded_fraction=0.0).read_text())
    assert not any(a['degraded'] for a in clean['annotations'])
    blur_only = json.loads(generate_synthvid(tmp_path, split='b', **SMALL,
                                             degradation_types=['blur']).read_text())
    assert {a['degradation'] for a in blur_only['annotations']} == {'blur', 'none'}
    crowded = json.loads(generate_synthvid(tmp_path, split='c', **SMALL,
                                           objects_per_video=(4, 4)).read_text())
    assert len({a['instance_id'] for a in crowded['annotations']}) == 4 * 4


@pytest.mark.parametrize('settings,error,match', [
    (dict(num_frames=0), ValueError, 'num_frames'),
    (dict(width=16), ValueError, 'width'),
    (dict(num_videos=2.5), TypeError, 'num_videos'),
    (dict(objects_per_video=(3, 1)), ValueError, 'objects_per_video'),
    (dict(degradation_types=('rain',)), ValueError, 'degradation_types'),
    (dict(degraded_fraction=1.5), ValueError, 'degraded_fraction'),
    (dict(frames=8), TypeError, 'frames'),
    (dict(split='no/slashes'), ValueError, 'split'),
])
def test_bad_arguments_are_named(tmp_path, settings, error, match):
    with pytest.raises(error, match=match):
        generate_synthvid(tmp_path, **settings)
    assert not (tmp_path / 'annotations').exists()


def test_command_line_generates_each_split(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'make_synthvid', ROOT / 'tools' / 'dataset_converters' / 'make_synthvid.py')
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    code = cli.main(['--out-dir', str(tmp_path), '--splits', 'train', 'val', '--num-videos', '2', '1',
                     '--frames', '3', '--width', '96', '--height', '64', '--no-videos',
                     '--blur-kernel', '5', '9', '--degraded-fraction', '0.5'])
    assert code == 0
    assert 'train: 2 videos, 6 frames' in capsys.readouterr().out
    val = json.loads((tmp_path / 'annotations' / 'synthvid_val.json').read_text())
    assert len(val['videos']) == 1 and val['info']['settings']['blur_kernel'] == [5, 9]
    assert not (tmp_path / 'val' / 'videos').exists()
    assert cli.main(['--out-dir', str(tmp_path), '--frames', '0']) == 2


def test_camera_rosters_bring_the_same_objects_back_to_each_camera(tmp_path):
    settings = dict(num_videos=8, num_frames=6, width=96, height=64, write_videos=False)
    rostered = json.loads(generate_synthvid(tmp_path, split='sites', camera_roster=3, num_cameras=2,
                                            first_camera=40, **settings).read_text())
    cameras = {video['id']: video['camera'] for video in rostered['videos']}
    assert set(cameras.values()) <= {40, 41}
    members = defaultdict(set)   # (camera, roster member) -> its classes and videos
    for ann in rostered['annotations']:
        members[cameras[ann['video_id']], ann['roster_member']].add(('class', ann['category_id']))
        members[cameras[ann['video_id']], ann['roster_member']].add(('video', ann['video_id']))
    assert all(0 <= member < 3 for _, member in members)
    assert all(len([tag for tag in tags if tag[0] == 'class']) == 1 for tags in members.values())
    assert any(len([tag for tag in tags if tag[0] == 'video']) > 1 for tags in members.values())   # they recur
    # without a roster nothing changes: the same settings give the same file as before the knob
    plain = json.loads(generate_synthvid(tmp_path, split='plain', **settings).read_text())
    default = json.loads(generate_synthvid(tmp_path / 'again', split='plain', camera_roster=0, first_camera=0,
                                           **settings).read_text())
    assert plain['annotations'] == default['annotations']
    assert not any('roster_member' in ann for ann in plain['annotations'])

"""tools/analysis/synthvid_difficulty.py: a --quick run end to end, and its pure helpers."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'analysis' / 'synthvid_difficulty.py'
GROUPS = {'all', 'clean', 'degraded', 'blur', 'occlusion', 'defocus_noise', 'contrast'}


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('synthvid_difficulty', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_quick_run_writes_results(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), '--quick', '--out-dir', str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert '| single_frame |' in result.stdout
    results = json.loads((tmp_path / 'results_default.json').read_text())
    assert {'accuracy', 'gap_recovered', 'test_counts', 'train_counts', 'wall_time_s'} <= set(results)
    assert set(results['accuracy']) == {'single_frame', 'window_pm5', 'past_5_online', 'whole_track'}
    counts = results['test_counts']
    assert counts['all'] == counts['clean'] + counts['degraded'] > 0
    for row in results['accuracy'].values():
        assert set(row) == GROUPS
        for group, value in row.items():
            if counts[group] == 0:
                assert value is None
            else:
                assert 0.0 <= value <= 1.0


def test_bad_synthvid_setting_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), '--quick', '--out-dir', str(tmp_path),
                             '--synthvid', 'no_such_knob=1'], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert 'no_such_knob' in result.stderr


def test_parse_settings(tool):
    assert tool.parse_settings(['degraded_fraction=0.5', 'blur_kernel=[11, 31]']) == {
        'degraded_fraction': 0.5, 'blur_kernel': [11, 31]}
    with pytest.raises(ValueError, match='KEY=VALUE'):
        tool.parse_settings(['degraded_fraction'])


def test_temporal_average_windows(tool):
    # One instance seen at frames 0, 1, 2 and 10 (absent in between), and a second instance.
    probabilities = np.array([[1, 0], [0, 1], [0, 1], [1, 0], [0.25, 0.75]], np.float64)
    instances = np.array([7, 7, 7, 7, 9])
    frames = np.array([0, 2, 1, 10, 0])
    centred = tool.temporal_average(probabilities, instances, frames, before=1, after=1)
    np.testing.assert_allclose(centred[0], [0.5, 0.5])  # frames 0 and 1
    np.testing.assert_allclose(centred[2], [1 / 3, 2 / 3])  # frames 0, 1, 2
    np.testing.assert_allclose(centred[3], [1, 0])  # frame 10 has no neighbour within 1
    past = tool.temporal_average(probabilities, instances, frames, before=1, after=0)
    np.testing.assert_allclose(past[1], [0, 1])  # frame 2 sees frames 1 and 2 only
    track = tool.temporal_average(probabilities, instances, frames, before=None, after=None)
    np.testing.assert_allclose(track[:4], np.tile([0.5, 0.5], (4, 1)))
    np.testing.assert_allclose(track[4], [0.25, 0.75])  # other instances never mix in


def test_crop_square_keeps_aspect_and_pads_outside(tool):
    frame = np.zeros((20, 40, 3), np.uint8)
    frame[5:15, 10:30] = 200  # a 20x10 box
    crop = tool.crop_square(frame, [10, 5, 20, 10], size=20, context=0.0)
    assert crop.shape == (20, 20, 3)
    # A square crop of the wide box: the box fills the middle rows, black above and below.
    assert crop[10, :, 0].min() > 150
    assert crop[2, 10, 0] == 0 and crop[17, 10, 0] == 0
    grey = np.full((20, 40, 3), 100, np.uint8)
    edge = tool.crop_square(grey, [0, 0, 4, 4], size=8, context=0.5)  # reaches 2 px past the corner
    assert edge[:2].max() == 0 and edge[:, :2].max() == 0  # outside the image: black
    assert edge[2:, 2:].min() == 100

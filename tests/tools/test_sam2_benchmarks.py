"""tools/benchmark/sam2_{stream_memory,objects,fps}.py on the tiny SynthVID tracker, at 64x64."""
import importlib.util
import re
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tool_runner import ROOT

CONFIG = str(ROOT / 'configs' / 'sam2' / 'sam2_tiny_synthvid.py')
TINY = ['--size', '64', '64', '--threads', '1']


def load_tool(name):
    path = ROOT / 'tools' / 'benchmark' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'benchmark_{name}', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


sam2_fps = load_tool('sam2_fps')
sam2_objects = load_tool('sam2_objects')
sam2_stream_memory = load_tool('sam2_stream_memory')


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def table_rows(text):
    """Data rows of the printed markdown table, as lists of cell strings."""
    rows = [line.strip('|').split('|') for line in text.splitlines() if line.startswith('| ')]
    return [[cell.strip() for cell in row] for row in rows[1:]]  # without the header


def test_moving_objects_are_spread_inside_the_frame_and_move():
    video = sam2_fps.MovingObjects(width=96, height=64, num_objects=8, seed=0)
    first, later = video.boxes(0, 8), video.boxes(30, 8)
    assert list(first) == list(range(1, 9))
    for boxes in (first, later):
        for x1, y1, x2, y2 in boxes.values():
            assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 64
    assert len({tuple(box) for box in first.values()}) == 8          # spread over a grid, not stacked
    assert first != later and video.boxes(0, 2) == {1: first[1], 2: first[2]}
    frame = video.frame(0)
    assert frame.shape == (64, 96, 3) and frame.dtype == np.uint8
    assert np.array_equal(frame, video.frame(0)) and not np.array_equal(frame, video.frame(30))
    x1, y1, x2, y2 = map(int, first[8])                              # drawn last: fully visible
    assert (frame[y1:y2, x1:x2] == video.colours[7]).all()
    with pytest.raises(ValueError, match='count'):
        video.boxes(0, 9)


def test_with_input_size_sets_every_test_resize():
    cfg = sam2_fps.with_input_size(Config.fromfile(CONFIG), 128, 96)
    from vmem.apis.benchmark import default_input_size
    assert default_input_size(cfg) == (128, 96)
    for key in ('val_dataloader', 'test_dataloader'):
        resize = [s for s in cfg[key]['dataset']['pipeline'] if s['type'] == 'Resize']
        assert [s['scale'] for s in resize] == [(128, 96)]
    with pytest.raises(sam2_fps.UsageError, match='no Resize step'):
        sam2_fps.with_input_size(Config(dict(test_pipeline=[dict(type='LoadFrame')])), 64, 64)


def test_track_stream_prompts_the_first_objects_and_times_each_frame():
    entry = sam2_fps.Entry(name='tiny', config=CONFIG, checkpoint=None)
    model, size = sam2_fps.build_model(entry, size=(64, 64), device='cpu')
    assert size == (64, 64)
    tracker = sam2_fps.StreamingTracker(model)
    video = sam2_fps.MovingObjects(width=64, height=64, num_objects=3)
    records = list(sam2_fps.track_stream(tracker, video, num_objects=2, num_frames=3))
    assert [r.frame_idx for r in records] == [0, 1, 2]
    assert all(r.seconds > 0 and 0 <= r.found <= 2 for r in records)
    assert tracker.object_ids == [1, 2] and tracker.frame_idx == 3
    assert sam2_fps.interleaved_order(3, 0) == [0, 1, 2] and sam2_fps.interleaved_order(3, 1) == [2, 1, 0]


def test_stream_memory_table_and_check(capsys):
    assert sam2_stream_memory.stream_windows(3000, 100) == [
        (250, 350), (700, 800), (1450, 1550), (2200, 2300), (2900, 3000)]
    result = sam2_stream_memory.main([CONFIG, *TINY, '--frames', '6', '--window', '2', '--objects', '2',
                                      '--check', '--max-time-ratio', '100', '--max-memory-ratio', '100'])
    out = capsys.readouterr().out
    assert '6 64x64 frames made on the fly, 2 moving objects' in out
    rows = table_rows(out)
    assert [row[0] for row in rows] == ['0-1', '1-2', '2-3', '3-4', '4-5', 'frame 6 / frame 1']
    for row in rows[:-1]:
        median, p90, rss, peak, tracker_kib = map(float, row[1:6])
        assert 0 < median <= p90 and 10 < rss <= peak and tracker_kib > 0
        assert re.fullmatch(r'\d+%', row[6])
    assert len({row[5] for row in rows[:-1]}) == 1        # bounded: memory banks are allocated once
    assert float(rows[-1][1].rstrip('x')) == pytest.approx(result['change']['median_ms'], abs=1e-3)
    assert re.search(r'^masks found on \d+% of tracked object-frames', out, re.M)
    assert 'flat: yes' in out and result['failures'] == []
    # thresholds no stream can meet fail the check with exit status 1
    with pytest.raises(SystemExit) as exit_info:
        sam2_stream_memory.main([CONFIG, *TINY, '--frames', '4', '--window', '2', '--check',
                                 '--max-time-ratio', '1e-9', '--max-memory-ratio', '1e-9'])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert 'flat: no: time per frame grew' in out and 'RSS grew' in out and 'tracker memory grew' in out


def test_objects_table_ratio_and_check(capsys):
    with pytest.raises(SystemExit) as exit_info:
        sam2_objects.main([CONFIG, *TINY, '--objects', '1', '3', '--frames', '2', '--warmup', '1',
                           '--repeats', '2', '--check', '--max-ratio', '1e-9'])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert 'video of 3 moving rectangles' in out and '2 runs per count, interleaved' in out
    rows = table_rows(out)
    assert [row[0] for row in rows] == ['1', '3'] and rows[0][6] == '1.00x'
    for row in rows:
        median, frames_per_s, p90 = map(float, row[1:4])
        assert 0 < median <= p90 and frames_per_s == pytest.approx(1000 / median, rel=0.01)
    assert re.search(r'^3 objects / 1 object: [\d.]+x \(target < 0.00x: NOT met\)$', out, re.M)
    Timing = sam2_objects.Timing
    timings = {1: Timing(runs=[[10.0, 10.0]]), 8: Timing(runs=[[25.0, 25.0]])}
    assert sam2_objects.ratios(timings) == {1: 1.0, 8: 2.5}
    assert sam2_objects.verdicts(timings, 3.0) == ['8 objects / 1 object: 2.50x (target < 3.00x: met)']


def test_fps_table_per_config_and_size(capsys):
    rows_out = sam2_fps.main(['--configs', CONFIG, '--sizes', '64', '96', '--frames', '2', '--warmup', '1',
                              '--repeats', '2', '--threads', '1'])
    out = capsys.readouterr().out
    assert re.search(r'^# sam2 fps, cpu: .*1 torch threads, torch ', out, re.M)
    assert '1 warm-up + 2 timed frames; 2 runs, interleaved' in out
    rows = table_rows(out)
    assert [(row[0], row[1]) for row in rows] == [('sam2_tiny_synthvid', '64x64'), ('sam2_tiny_synthvid', '96x96')]
    for row, (_, _, timing) in zip(rows, rows_out):
        assert float(row[2]) == pytest.approx(timing.median_ms, abs=0.05) and len(timing.runs) == 2
        assert float(row[3]) == pytest.approx(timing.fps, abs=0.005)


@pytest.mark.parametrize('tool', ['sam2_fps', 'sam2_objects', 'sam2_stream_memory'])
def test_bad_size_and_config_path_are_one_line_errors(tool):
    main = {'sam2_fps': sam2_fps.main, 'sam2_objects': sam2_objects.main,
            'sam2_stream_memory': sam2_stream_memory.main}[tool]

    def args(config, size):
        if tool == 'sam2_fps':
            return ['--configs', config, '--sizes', str(size), '--frames', '1']
        return [config, '--size', str(size), '64', '--frames', '2'] + (['--window', '2'] if 'stream' in tool else [])
    # sys.exit(message): status 1, the message on stderr
    with pytest.raises(SystemExit, match=r'^error: input size 100x(100|64): width and height must be '
                                         r'multiples of 32$'):
        main(args(CONFIG, 100))
    with pytest.raises(SystemExit, match='^error: config file not found: nowhere.py$'):
        main(args('nowhere.py', 64))

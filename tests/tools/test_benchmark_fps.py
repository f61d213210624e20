"""tools/benchmark/fps.py and stream_memory.py on the tiny Faster R-CNN, and the streaming they share."""
import importlib.util
import re
import sys

import pytest
import torch

from tool_runner import ROOT
from vmem.apis.benchmark import FrameRecord, frame_order, stream, synthetic_frames
from vmem.video import write_image

CONFIG = str(ROOT / 'configs' / 'faster_rcnn' / 'faster_rcnn_r10t_synthvid_tiny.py')
TINY = ['--size', '64', '48', '--threads', '1']


def load_tool(name):
    path = ROOT / 'tools' / 'benchmark' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'benchmark_{name}', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fps = load_tool('fps')
stream_memory = load_tool('stream_memory')


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def table_rows(text):
    """Data rows of the printed markdown table, as lists of cell strings."""
    rows = [line.strip('|').split('|') for line in text.splitlines() if line.startswith('| ')]
    return [[cell.strip() for cell in row] for row in rows[1:]]  # without the header


class RecordingDetector:
    """Stands in for a memory model: keeps the metainfo and input of every test_step."""

    def __init__(self):
        self.seen = []

    def test_step(self, data):
        sample = data['data_samples'][0]
        self.seen.append((dict(sample.metainfo), data['inputs'][0]))
        return [sample]


def test_stream_feeds_one_video_in_order_with_pipeline_metainfo():
    frames = synthetic_frames(width=40, height=30, num_frames=3)
    assert [tuple(f.shape) for f in frames] == [(3, 30, 40)] * 3 and frames[0].dtype == torch.uint8
    model = RecordingDetector()
    records = stream(model, frames, num_frames=7, video_id=5, measure_memory=True)
    assert [r.frame_id for r in records] == list(range(7))
    assert all(r.seconds >= 0 and r.rss_bytes > 10 * 2**20 and r.cuda_bytes is None for r in records)
    metas = [meta for meta, _ in model.seen]
    assert [m['frame_id'] for m in metas] == list(range(7))
    assert {m['video_id'] for m in metas} == {5} and {m['video_length'] for m in metas} == {7}
    assert metas[0]['img_shape'] == metas[0]['ori_shape'] == (30, 40)
    assert metas[0]['scale_factor'] == (1.0, 1.0)
    # played forwards then backwards: frames 0 1 2 1 0 1 2
    played = [image for _, image in model.seen]
    assert all(torch.equal(played[t], frames[i]) for t, i in enumerate([0, 1, 2, 1, 0, 1, 2]))
    assert list(frame_order(5, 1)) == [0] * 5
    with pytest.raises(ValueError, match='num_frames'):
        stream(model, frames, num_frames=0)
    with pytest.raises(ValueError, match='width'):
        synthetic_frames(width=0, height=30)


def test_fps_table_compares_configs_and_loads_a_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / 'tiny.pth'
    torch.save({'state_dict': fps.init_model(CONFIG).state_dict()}, checkpoint)
    results = fps.main([CONFIG, str(checkpoint), '--compare', CONFIG, *TINY,
                        '--frames', '4', '--warmup', '1', '--repeats', '2'])
    out = capsys.readouterr().out
    assert re.search(r'^# fps, cpu: .*1 torch threads, torch .*\d{4}-\d\d-\d\d', out, re.M)
    assert '64x48 frames from synthetic' in out and '1 warm-up + 4 timed frames' in out
    rows = table_rows(out)
    assert [row[0] for row in rows] == [f'faster_rcnn_r10t_synthvid_tiny ({i})' for i in (1, 2)]
    for row, timing in zip(rows, results.values()):
        median, frames_per_s, p90 = float(row[1]), float(row[2]), float(row[3])
        assert 0 < median <= p90 and median == pytest.approx(timing.median_ms, abs=0.05)
        assert frames_per_s == pytest.approx(1000 / timing.median_ms, abs=0.005)
        assert len(timing.runs) == 2 and all(len(run) == 4 for run in timing.runs)
    assert rows[0][5] == '1.00x' and float(rows[1][5].rstrip('x')) > 0


def test_fps_entry_options_change_one_timed_config_only(capsys, monkeypatch):
    built = []
    init_model = fps.init_model
    monkeypatch.setattr(fps, 'init_model', lambda *a, **kw: built.append(init_model(*a, **kw)) or built[-1])
    results = fps.main([CONFIG, '--compare', CONFIG, *TINY, '--frames', '2', '--warmup', '0', '--repeats', '1',
                        '--entry-options', '2', 'model.type=MAMBA', '+model.score_memory.num_frames=3'])
    names = list(results)
    assert names == ['faster_rcnn_r10t_synthvid_tiny',
                     'faster_rcnn_r10t_synthvid_tiny model.type=MAMBA +model.score_memory.num_frames=3']
    assert [row[0] for row in table_rows(capsys.readouterr().out)] == names
    assert type(built[0]).__name__ == 'FasterRCNN'
    assert type(built[1]).__name__ == 'MAMBA' and built[1].score_memory.num_frames == 3
    for bad, message in [(['0', 'model.type=MAMBA'], 'entry number 1..2'), (['x'], 'entry number'),
                         (['2'], 'at least one KEY=VALUE')]:
        with pytest.raises(SystemExit):
            fps.parse_args([CONFIG, '--compare', CONFIG, '--entry-options', *bad])
        assert message in capsys.readouterr().err


def test_fps_reads_a_frame_folder(tmp_path, capsys):
    for index, frame in enumerate(synthetic_frames(width=64, height=64, num_frames=3)):
        write_image(tmp_path / f'frame_{index}.png', frame.permute(1, 2, 0).numpy())
    fps.main([CONFIG, *TINY, '--frames', '3', '--warmup', '0', '--repeats', '1', '--source', str(tmp_path)])
    out = capsys.readouterr().out
    assert f'frames from {tmp_path}' in out
    rows = table_rows(out)
    assert len(rows) == 1 and float(rows[0][1]) > 0
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='empty.* has no .*images'):
        fps.main([CONFIG, *TINY, '--frames', '3', '--source', str(tmp_path / 'empty')])


def test_stream_memory_windows_and_check(capsys):
    assert stream_memory.stream_windows(2000, 100) == [(50, 150), (450, 550), (950, 1050), (1900, 2000)]
    assert stream_memory.stream_windows(6, 6) == [(0, 6)]
    # limits no noise can break: this checks the table and the passing path, not the speed
    result = stream_memory.main([CONFIG, *TINY, '--frames', '6', '--window', '2', '--check',
                                 '--max-time-ratio', '1e6', '--max-memory-growth-mib', '1e6'])
    out = capsys.readouterr().out
    rows = table_rows(out)
    assert [row[0] for row in rows] == ['0-1', '1-2', '2-3', '4-5', 'last / first']
    for row in rows[:-1]:
        assert 0 < float(row[1]) <= float(row[2]) and float(row[3]) > 10  # ms, p90 ms, RSS MiB
    assert float(rows[-1][1].rstrip('x')) == pytest.approx(result['change']['time_ratio'], abs=0.01)
    # a threshold no stream can meet fails the check with exit status 1
    with pytest.raises(SystemExit) as exit_info:
        stream_memory.main([CONFIG, *TINY, '--frames', '4', '--window', '2', '--check',
                            '--max-time-ratio', '1e-9'])
    assert exit_info.value.code == 1
    assert 'flat: no: time per frame grew' in capsys.readouterr().out


def test_check_flat_reports_each_kind_of_growth():
    change = {'time_ratio': 1.5, 'rss_growth_mib': 80.0, 'cuda_growth_mib': 10.0}
    failures = stream_memory.check_flat(change, max_time_ratio=1.2, max_memory_growth_mib=50)
    assert failures == ['time per frame grew 1.50x > 1.20x', 'RSS grew 80.0 MiB > 50.0 MiB']
    records = [FrameRecord(frame_id=i, seconds=0.01 * (1 + i), rss_bytes=2**20 * (100 + i)) for i in range(4)]
    stats = stream_memory.window_stats(records, [(0, 2), (2, 4)])
    assert [s.median_ms for s in stats] == pytest.approx([15.0, 35.0])
    assert stream_memory.growth(stats) == pytest.approx({'time_ratio': 35 / 15, 'rss_growth_mib': 2.0})


@pytest.mark.parametrize('tool', ['fps', 'stream_memory'])
def test_bad_config_path_and_size_are_named(tool, capsys):
    main = {'fps': fps.main, 'stream_memory': stream_memory.main}[tool]
    short = ['--frames', '2'] + (['--window', '2'] if tool == 'stream_memory' else [])
    with pytest.raises(SystemExit, match='config file not found: nowhere.py'):
        main(['nowhere.py', *TINY, *short])
    with pytest.raises(SystemExit) as exit_info:
        main([CONFIG, '--size', '0', '48', *short])
    assert exit_info.value.code == 2
    assert 'argument --size: expected an integer >= 1, got 0' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([CONFIG, '--size', '64', *short])
    assert 'argument --size: expected 2 arguments' in capsys.readouterr().err


def test_stream_memory_refuses_a_window_longer_than_the_stream(capsys):
    with pytest.raises(SystemExit):
        stream_memory.main([CONFIG, '--frames', '5', '--window', '10'])
    assert 'argument --window: 10 is more than --frames 5' in capsys.readouterr().err


def test_compare_entries_may_name_a_checkpoint():
    assert fps.parse_entry('configs/a/b.py:work/c.pth') == fps.Entry(name='b', config='configs/a/b.py',
                                                                    checkpoint='work/c.pth')
    assert fps.parse_entry('b.py') == fps.Entry(name='b', config='b.py', checkpoint=None)


@pytest.mark.parametrize('config, size', [
    ('faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py', (256, 192)),
    # the clip test pipeline keeps its Resize inside ApplyToFrames
    ('mamba/mamba_r101_dc5_imagenetvid.py', (1000, 600)),
])
def test_default_input_size_reads_the_test_resize(config, size):
    from mmengine.config import Config

    from vmem.apis.benchmark import default_input_size
    assert default_input_size(Config.fromfile(str(ROOT / 'configs' / config))) == size

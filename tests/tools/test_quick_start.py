"""demo/quick_start.py end to end on a miniature SynthVID and schedule: data, both
trainings, both evaluations, the comparison table and the demo video; a second run
reuses every result."""
import re

from tool_runner import run_tool
from vmem.video import open_video

SMALL = ['--videos', '2', '1', '1', '--frames', '6', '--schedule', '4', '2', '3']


def comparison_table(output):
    """The rows of the table printed last."""
    tail = output[output.index('SynthVID val mAP (%)'):]
    return [line for line in tail.splitlines() if line.startswith('| ')]


def test_quick_start_runs_end_to_end_and_reuses_its_results(tmp_path):
    args = ['demo/quick_start.py', '--data-root', tmp_path / 'synthvid', '--work-dir', tmp_path / 'work',
            '--demo-dir', tmp_path / 'demo', *SMALL]
    first = run_tool(*args, timeout=600).stdout
    table = comparison_table(first)
    assert table[0].startswith('| model | mAP | mAP_slow')
    assert [row.split('|')[1].strip() for row in table[1:]] == ['Faster R-CNN (single frame)', 'MAMBA (online)']
    for row in table[1:]:
        cells = [cell.strip() for cell in row.strip('|').split('|')[1:]]
        assert len(cells) == 6 and cells[0] != 'n/a'
        assert all(cell == 'n/a' or 0.0 <= float(cell) <= 100.0 for cell in cells)
    # MAMBA started from the baseline's checkpoint at the fork
    assert re.search(r'tools/train\.py configs/mamba/\S+ .*load_from=\S+/faster_rcnn/iter_2\.pth', first)
    # the gain with its paired-bootstrap interval over the evaluation split's videos
    gain = re.search(r'^MAMBA - single frame: ([+-][0-9.]+) mAP, 95% CI \[([+-][0-9.]+), ([+-][0-9.]+)\] '
                     r'\(paired bootstrap over 1 videos', first, re.M)
    assert gain and float(gain[2]) <= float(gain[1]) <= float(gain[3])
    assert (tmp_path / 'work' / 'seed0' / 'gain.json').is_file()
    with open_video(tmp_path / 'demo' / 'mamba_synthvid_test_00000.mp4') as video:
        assert len(list(video)) == 6
    second = run_tool(*args, timeout=600).stdout
    assert 'tools/train.py' not in second and 'tools/test.py' not in second and 'video_demo.py' not in second
    assert second.count('(reusing ') == 5
    assert comparison_table(second) == table

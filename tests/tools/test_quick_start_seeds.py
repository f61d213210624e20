"""tools/benchmark/quick_start_seeds.py on a miniature quick start: one row per seed and the summary."""
import re

from tool_runner import run_tool

SMALL = ['--videos', '2', '1', '1', '--frames', '6', '--schedule', '4', '2', '3', '--bootstrap-samples', '20']


def test_two_seeds_give_two_rows_and_a_summary(tmp_path):
    output = run_tool('tools/benchmark/quick_start_seeds.py', '--seeds', '0', '1', '--work-dir', tmp_path / 'w',
                      '--data-root', tmp_path / 'synthvid', *SMALL, timeout=600).stdout
    rows = re.findall(r'^\| (\d) \| ([0-9.]+) \| ([0-9.]+) \| ([+-][0-9.]+) \| \[([+-][0-9.]+), ([+-][0-9.]+)\] \|',
                      output, re.M)
    assert [row[0] for row in rows] == ['0', '1']
    for _, baseline, mamba, gain, low, high in rows:
        assert abs(float(mamba) - float(baseline) - float(gain)) <= 0.11   # rounding of three numbers
        assert float(low) <= float(high)
    assert re.search(r'^gain: mean [+-][0-9.]+, std [0-9.]+ over 2 seeds; positive in \d/2', output, re.M)
    assert (tmp_path / 'w' / 'seed1' / 'gain.json').is_file()

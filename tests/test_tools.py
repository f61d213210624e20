"""The quick-start demo and the retrieval benchmark run end to end (as a user runs them)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_memory_bank_demo_runs():
    out = run('demo/memory_bank_demo.py')
    assert 'memory frames, oldest first: [0, 14, 15, 16, 17, 18, 19]' in out
    assert 'camera 0: days held [21, 24, 27]' in out


def test_retrieval_benchmark_quick_table():
    out = run('tools/benchmark/retrieval.py', '--quick', '--repeats', '1', '--memory')
    rows = [line for line in out.splitlines() if line.startswith('| quick')]
    assert len(rows) == 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip('|').split('|')]
        assert float(cells[1]) > 0 and cells[4].endswith('x')

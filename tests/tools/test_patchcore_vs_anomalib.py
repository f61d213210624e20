"""tools/benchmark/patchcore_vs_anomalib.py, vmem's side only (anomalib is not a dependency)."""
import importlib.util
import re
import sys

import torch

from tool_runner import ROOT


def load_tool():
    path = ROOT / 'tools' / 'benchmark' / 'patchcore_vs_anomalib.py'
    spec = importlib.util.spec_from_file_location('benchmark_patchcore_vs_anomalib', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_one_row_per_model_with_the_mean_and_range_over_seeds(capsys):
    threads = torch.get_num_threads()
    try:
        load_tool().main(['--backbone', 'resnet18', '--size', '64', '--seeds', '0', '1', '--big-patches', '0'])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert 'anomalib: not run' in out and 'coreset seeds [0, 1]' in out
    rows = [line for line in out.splitlines() if line.startswith('| vmem PatchCore')]
    assert len(rows) == 2 and '384-d' in rows[0] and '1024-d, channel-pooled' in rows[1]
    for row in rows:
        mean, low, high = map(float, re.search(r'\| ([\d.]+) \(([\d.]+)-([\d.]+)\) \|', row).groups())
        assert 0.5 <= low <= mean <= high <= 1.0  # image AUROC of a working model, averaged over the seeds

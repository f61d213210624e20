"""tools/benchmark/context_rcnn_speed.py: its camera bank and its table, on a tiny run."""
import importlib.util
import sys

import torch

from tool_runner import ROOT
from vmem.utils import register_all_modules

spec = importlib.util.spec_from_file_location('benchmark_context_rcnn_speed',
                                              ROOT / 'tools' / 'benchmark' / 'context_rcnn_speed.py')
speed = importlib.util.module_from_spec(spec)
spec.loader.exec_module(speed)


def test_bank_holds_the_size_asked_and_options_reach_the_model():
    register_all_modules()
    model = speed.context_model(300, 8, None, span_s=2.0, short_term=1.0,
                                cfg_options={'model.attention.bottleneck_dim': 16})
    aggregator = model.roi_head.box_head.aggregators['1']
    assert model.camera_memory.size(speed.CAMERA) == 300
    assert aggregator.attention.bottleneck_dim == 16 and aggregator.attention.num_keys == 8
    assert model.short_term_window == 1.0 and aggregator.short_attention is not None
    # the entries near the frames' times come at a 10-fps stream's density
    times = model.camera_memory.bank.bank(speed.CAMERA).field('time')
    assert int(((times >= speed.NOW) & (times <= speed.NOW + 2.0)).sum()) == 2 * speed.STREAM_ENTRIES_PER_SECOND


def test_the_table_has_the_base_and_both_modes_per_bank_size(capsys):
    threads = torch.get_num_threads()
    try:
        assert speed.main(['--bank-sizes', '50', '--frames', '1', '--warmup', '0', '--repeats', '1']) == 0
    finally:
        torch.set_num_threads(threads)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith('| ')][1:]
    assert [row.split('|')[1].strip() for row in rows] == [
        'single-frame base', '50 entries, full attention', '50 entries, top-32 sparse']
    assert all(float(row.split('|')[2]) > 0 for row in rows)

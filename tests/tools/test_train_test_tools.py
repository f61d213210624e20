"""tools/test.py on real SynthVID data (with a test-local toy detector), print_config,
and the argument handling shared by the tools."""
import pickle
import sys

import pytest
import torch
from mmengine.config import Config

from tool_runner import ROOT, TOY_TEST, TOY_TRAIN, run_tool
from vmem.datasets.synthetic import generate_synthvid
from vmem.utils.runner_args import (configure_test, configure_train, default_work_dir, format_metrics,
                                    load_config, set_local_rank_env)

PLAIN = (dict, list, tuple, int, float, str, bool, type(None), torch.Tensor)


def leaf_types(node):
    if isinstance(node, dict):
        return set().union(*(leaf_types(value) for value in node.values())) | {dict}
    if isinstance(node, (list, tuple)):
        return set().union(set(), *(leaf_types(value) for value in node)) | {type(node)}
    return {type(node)}


@pytest.fixture(scope='module')
def synthvid_test_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid')
    generate_synthvid(root, split='test', num_videos=2, num_frames=4, width=96, height=64, write_videos=False)
    return root


def test_test_tool_prints_metrics_and_dumps_plain_predictions(synthvid_test_root, tmp_path):
    checkpoint = tmp_path / 'toy.pth'
    torch.save({'state_dict': {'score': torch.tensor(0.75)}}, checkpoint)
    out = tmp_path / 'preds.pkl'
    result = run_tool('tools/test.py', TOY_TEST, checkpoint, '--work-dir', tmp_path / 'wd', '--out', out,
                      '--cfg-options', f'test_dataloader.dataset.data_root={synthvid_test_root}/',
                      f'test_evaluator.ann_file={synthvid_test_root}/annotations/synthvid_test.json')
    table = [line for line in result.stdout.splitlines() if line.startswith('| vid/')]
    assert [line.split('|')[1].strip() for line in table][:4] == [
        'vid/mAP', 'vid/mAP_fast', 'vid/mAP_medium', 'vid/mAP_slow']
    with open(out, 'rb') as file:
        predictions = pickle.load(file)
    assert len(predictions) == 8  # every frame of both videos
    assert leaf_types(predictions) <= set(PLAIN)
    # the checkpoint's weight was loaded (strictly) and reached the predictions
    assert all(float(p['pred_instances']['scores'][0]) == 0.75 for p in predictions)
    assert len({(p['video_id'], p['frame_id']) for p in predictions}) == 8


def test_show_dir_is_refused_with_a_clear_message(tmp_path):
    cfg = Config.fromfile(TOY_TEST)
    with pytest.raises(NotImplementedError, match='visualizer'):
        configure_test(cfg, config_path=TOY_TEST, show_dir=str(tmp_path))


def test_out_must_be_a_pickle_and_adds_dump_results():
    cfg = Config.fromfile(TOY_TEST)
    with pytest.raises(ValueError, match='.pkl'):
        configure_test(cfg, config_path=TOY_TEST, out='preds.json')
    cfg = configure_test(Config.fromfile(TOY_TEST), config_path=TOY_TEST, out='p.pkl')
    assert [e['type'] for e in cfg.test_evaluator] == ['VIDMetric', 'DumpResults']
    assert cfg.train_dataloader is None and cfg.val_dataloader is None


def test_train_options_resume_amp_work_dir(tmp_path):
    cfg = configure_train(Config.fromfile(TOY_TRAIN), config_path=TOY_TRAIN, resume='auto')
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.work_dir == default_work_dir(TOY_TRAIN) == './work_dirs/toy_train'
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        configure_train(Config.fromfile(TOY_TRAIN), config_path=TOY_TRAIN, resume=str(tmp_path / 'nowhere.pth'))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='CUDA'):
            configure_train(Config.fromfile(TOY_TRAIN), config_path=TOY_TRAIN, amp=True)
    else:
        cfg = configure_train(Config.fromfile(TOY_TRAIN), config_path=TOY_TRAIN, amp=True)
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'


def test_both_local_rank_spellings_are_accepted(monkeypatch):
    sys.path.insert(0, str(ROOT / 'tools'))
    try:
        import train
        assert train.parse_args([TOY_TRAIN, '--local_rank', '1']).local_rank == 1
        assert train.parse_args([TOY_TRAIN, '--local-rank=2']).local_rank == 2
        assert train.parse_args([TOY_TRAIN, '--resume']).resume == 'auto'
    finally:
        sys.path.remove(str(ROOT / 'tools'))
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    set_local_rank_env(3)
    import os
    assert os.environ['LOCAL_RANK'] == '3'


def test_print_config_shows_merged_options():
    result = run_tool('tools/misc/print_config.py', TOY_TRAIN, '--cfg-options', 'train_cfg.max_iters=11')
    assert 'max_iters=11' in result.stdout and "default_scope = 'vmem'" in result.stdout


def test_load_config_applies_options_and_metrics_table():
    cfg = load_config(TOY_TRAIN, {'optim_wrapper.optimizer.lr': 0.5, '+model.extra': 1})
    assert cfg.optim_wrapper.optimizer.lr == 0.5 and cfg.model.extra == 1
    table = format_metrics({'vid/mAP': 0.5, 'count': 3})
    assert table.splitlines()[2] == '| vid/mAP | 0.5000 |'

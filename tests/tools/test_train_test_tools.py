"""tools/test.py on real SynthVID data (with a test-local toy detector), print_config,
and the argument handling shared by the tools."""
import pickle
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from tool_runner import ROOT, TOY_TEST, TOY_TRAIN, run_tool
from vmem.datasets.synthetic import generate_synthvid
from vmem.engine import DetVisualizationHook
from vmem.structures import DetDataSample
from vmem.utils.runner_args import (configure_test, configure_train, default_work_dir, format_metrics,
                                    load_config, set_local_rank_env)
from vmem.video import VideoWriter, read_image

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


def test_show_dir_writes_one_drawn_jpg_per_test_frame(synthvid_test_root, tmp_path):
    checkpoint = tmp_path / 'toy.pth'
    torch.save({'state_dict': {'score': torch.tensor(0.75)}}, checkpoint)
    show_dir = tmp_path / 'shown'
    run_tool('tools/test.py', TOY_TEST, checkpoint, '--work-dir', tmp_path / 'wd', '--show-dir', show_dir,
             '--cfg-options', f'test_dataloader.dataset.data_root={synthvid_test_root}/',
             f'test_evaluator.ann_file={synthvid_test_root}/annotations/synthvid_test.json')
    frames = sorted((synthvid_test_root / 'test' / 'frames').glob('*/*.jpg'))
    drawn = sorted(show_dir.glob('*/*.jpg'))
    assert len(frames) == 8
    assert [p.relative_to(show_dir) for p in drawn] == [p.relative_to(frames[0].parents[1]) for p in frames]
    for frame_path, drawn_path in zip(frames, drawn):
        frame, picture = read_image(frame_path), read_image(drawn_path)
        assert picture.shape == frame.shape == (64, 96, 3)  # the original frame size, not the network input's
        # ToyDetector's box spans the middle half: its outline is drawn, the corner is left alone
        assert np.abs(picture[16:48, 24].astype(int) - frame[16:48, 24]).max() > 60
        assert np.abs(picture[-3:, -3:].astype(int) - frame[-3:, -3:]).max() < 30  # jpeg noise only


def test_show_dir_adds_the_hook_after_existing_ones(tmp_path):
    cfg = Config.fromfile(TOY_TEST)
    cfg.custom_hooks = [dict(type='RandomStateHook')]
    cfg = configure_test(cfg, config_path=TOY_TEST, show_dir=str(tmp_path))
    assert cfg.custom_hooks == [dict(type='RandomStateHook'),
                                dict(type='DetVisualizationHook', show_dir=str(tmp_path))]


def test_visualization_hook_reads_video_frames_and_skips_samples_without_a_source(tmp_path):
    video = tmp_path / 'clip.mp4'
    with VideoWriter(video, fps=5.0, frame_size=(64, 48)) as writer:
        for _ in range(3):
            writer.write(np.full((48, 64, 3), 90, np.uint8))
    hook = DetVisualizationHook(show_dir=tmp_path / 'shown')
    runner = SimpleNamespace(test_dataloader=SimpleNamespace(dataset=SimpleNamespace(metainfo={'classes': ('a',)})))
    hook.before_test(runner)

    def predicted(**metainfo):
        sample = DetDataSample(metainfo=dict(ori_shape=(48, 64), **metainfo))
        sample.pred_instances = InstanceData(bboxes=torch.tensor([[8.0, 8.0, 40.0, 40.0]]),
                                             scores=torch.tensor([0.9]), labels=torch.tensor([0]))
        return sample

    outputs = [predicted(video_path=str(video), frame_id=0), predicted(video_path=str(video), frame_id=2),
               predicted()]  # the last names no frame to read: skipped
    hook.after_test_iter(runner, 0, data_batch=None, outputs=outputs)
    assert sorted(p.name for p in (tmp_path / 'shown' / 'clip').iterdir()) == ['frame_000000.jpg', 'frame_000002.jpg']
    assert read_image(tmp_path / 'shown' / 'clip' / 'frame_000002.jpg').shape == (48, 64, 3)
    assert hook._video is not None  # kept open for the next frames of this video ...
    hook.after_test_epoch(runner)
    assert hook._video is None  # ... and closed at the end


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

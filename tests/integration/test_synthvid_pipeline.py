"""SynthVID -> CocoVideoDataset (from the shipped base config) -> dataloaders -> VIDMetric.

Checks the data layer end to end on generated files: training batches carry a key frame
plus its references with the same flip, the test loader visits every frame in video
order, and predictions equal to the ground truth (mapped back to original-image
coordinates) score a perfect VID mAP.
"""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from vmem.datasets.synthetic import generate_synthvid
from vmem.registry import METRICS

CONFIG = 'configs/_base_/datasets/synthvid.py'


@pytest.fixture(scope='module')
def synthvid_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid')
    for split in ('train', 'val'):
        generate_synthvid(root, split=split, num_videos=3, num_frames=12, width=128, height=96,
                          write_videos=False)
    return str(root) + '/'


def loader_config(cfg, name, root):
    loader = copy.deepcopy(cfg[name])
    loader.update(num_workers=0, persistent_workers=False)
    loader['dataset']['data_root'] = root
    return loader


def test_training_batches_hold_key_and_reference_frames(synthvid_root):
    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('vmem'):
        loader = Runner.build_dataloader(loader_config(cfg, 'train_dataloader', synthvid_root), seed=0)
        batch = next(iter(loader))
    inputs, samples = batch['inputs'], batch['data_samples']
    assert len(inputs) == len(samples) == 4
    frames = inputs[0]
    assert frames.shape[0] == 3 and frames.shape[1] == 3 and frames.dtype == torch.uint8
    clip = samples[0]
    key, refs = clip.key_frames[0], clip.ref_frames
    assert len(refs) == 2
    assert {ref.flip for ref in refs} == {key.flip}
    for frame in (key, *refs):
        assert frame.video_id == key.video_id
        assert abs(frame.frame_id - key.frame_id) <= 9
        boxes = frame.gt_instances.bboxes
        height, width = frame.img_shape
        assert boxes.numel() == 0 or (boxes[:, 2] <= width + 1e-3).all() and (boxes[:, 3] <= height + 1e-3).all()


def test_test_loader_in_video_order_and_perfect_predictions_score_one(synthvid_root):
    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('vmem'):
        loader = Runner.build_dataloader(loader_config(cfg, 'val_dataloader', synthvid_root), seed=0)
        evaluator_cfg = dict(cfg.val_evaluator, ann_file=synthvid_root + 'annotations/synthvid_val.json')
        metric = METRICS.build(evaluator_cfg)
        metric.dataset_meta = loader.dataset.metainfo
        order = []
        for batch in loader:
            predictions = []
            for sample in batch['data_samples']:
                order.append((sample.video_id, sample.frame_id))
                w_scale, h_scale = sample.scale_factor
                prediction = copy.deepcopy(sample)
                boxes = sample.gt_instances.bboxes.clone()
                boxes[:, 0::2] /= w_scale
                boxes[:, 1::2] /= h_scale
                prediction.pred_instances = sample.gt_instances.new(
                    bboxes=boxes, labels=sample.gt_instances.labels,
                    scores=torch.ones(len(boxes)))
                predictions.append(prediction)
            metric.process(batch, predictions)
        results = metric.evaluate(len(loader.dataset))
    assert order == sorted(order) and len(order) == 3 * 12
    assert results['vid/mAP'] == pytest.approx(1.0)

"""tools/context_rcnn/attention_report.py on a tiny SynthVID camera split."""
import importlib.util
import json

import pytest
import torch
from mmengine.registry import DATASETS, DefaultScope

from tool_runner import ROOT
from vmem.datasets.synthetic import generate_synthvid
from vmem.registry import MODELS
from vmem.utils import register_all_modules
from vmem.utils.runner_args import load_config

spec = importlib.util.spec_from_file_location('attention_report', ROOT / 'tools' / 'context_rcnn' / 'attention_report.py')
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)
CONFIG = str(ROOT / 'configs' / 'context_rcnn' / 'context_rcnn_r10t_synthvid_tiny.py')


def test_report_sorts_rois_and_names_the_objects_that_entries_came_from(tmp_path):
    register_all_modules()
    generate_synthvid(tmp_path, split='cam_val', num_videos=2, num_cameras=1, first_camera=20, num_frames=4,
                      width=64, height=64, write_videos=False, camera_roster=3)
    ann_file = tmp_path / 'annotations' / 'synthvid_cam_val.json'
    cfg = load_config(CONFIG, {'model.memory_file': None})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(data_root=str(tmp_path) + '/', ann_file='annotations/synthvid_cam_val.json',
                       data_prefix=dict(img_path='cam_val/frames'))
    with DefaultScope.overwrite_default_scope('vmem'):
        dataset = DATASETS.build(dataset_cfg)
    truth = report.ObjectIdentities(str(ann_file))
    # one entry per ground-truth box of frame 0 of each video, at that box
    data = json.loads(ann_file.read_text())
    firsts = [image for image in data['images'] if image['frame_id'] == 0]
    expected, now = [], dataset[0]['data_samples'].metainfo['timestamp']
    for image in firsts:
        boxes = [a for a in data['annotations'] if a['image_id'] == image['id']]
        xywh = torch.tensor([a['bbox'] for a in boxes], dtype=torch.float)
        cxcywh = torch.stack([(xywh[:, 0] + xywh[:, 2] / 2) / 64, (xywh[:, 1] + xywh[:, 3] / 2) / 64,
                              xywh[:, 2] / 64, xywh[:, 3] / 64], 1)
        model.camera_memory.write(20, features=torch.randn(len(boxes), 256), boxes=cxcywh,
                                  scores=torch.ones(len(boxes)), timestamp=now, image_id=image['id'])
        expected += [(a['roster_member'], a['category_id']) for a in boxes]
    slots = model.camera_memory.bank.bank(20).read().slots
    found = report.entry_matches(model.camera_memory, 20, slots, truth, (64, 64))
    assert sorted((m.identity, m.category) for m in found) == sorted(expected)

    totals = report.attention_report(model, dataset, truth, every=1)
    aggregator = model.roi_head.box_head.aggregators['1']
    assert '_attend' not in vars(aggregator) and '_weights' not in vars(aggregator.attention)   # unwrapped
    assert sum(totals[kind]['rois'] for kind in report.KINDS) > 0
    for kind in ('clean', 'degraded'):
        total = totals[kind]
        for key in ('same', 'same_share', 'class', 'class_share', 'top1'):
            assert 0 <= total[key] <= total['rois']
    table = report.format_report(totals)
    assert table.startswith('| RoIs on |') and 'background' in table
    with pytest.raises(ValueError, match='roster_member'):
        data['annotations'][0].pop('roster_member')
        bad = tmp_path / 'bad.json'
        bad.write_text(json.dumps(data))
        report.ObjectIdentities(str(bad))

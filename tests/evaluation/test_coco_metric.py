"""CocoMetric against pycocotools run by hand on the same inputs, and its options and errors."""
import contextlib
import io
import json

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement, InstanceData
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from vmem.evaluation.metrics import CocoMetric

HEIGHT, WIDTH = 120, 160
CATEGORIES = [{'id': 7, 'name': 'person'}, {'id': 2, 'name': 'car'}]  # label 0 = car (id 2), 1 = person
CATEGORY_OF_LABEL = [2, 7]

# per image: ground truth (category_id, xywh) and predictions (label, xyxy, score);
# sizes span COCO's small (< 32^2), medium and large areas
GROUND_TRUTH = {
    1: [(2, (10, 10, 60, 40)), (7, (100, 20, 20, 60)), (7, (5, 90, 12, 12))],
    2: [(2, (20, 30, 100, 80)), (2, (130, 5, 25, 20))],
    3: [(7, (40, 40, 30, 70))],
}
PREDICTIONS = {
    1: [(0, (12, 11, 70, 52), 0.9), (1, (98, 22, 121, 78), 0.8), (1, (5, 90, 16, 101), 0.35),
        (0, (0, 0, 30, 30), 0.6)],
    2: [(0, (22, 30, 118, 112), 0.75), (1, (130, 5, 155, 25), 0.55), (0, (128, 6, 150, 24), 0.5)],
    3: [(1, (42, 38, 72, 108), 0.95), (1, (40, 40, 60, 60), 0.2)],
}


def box_mask(xyxy):
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    x1, y1, x2, y2 = (int(round(v)) for v in xyxy)
    mask[y1:y2, x1:x2] = True
    return mask


def rle(mask):
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    encoded['counts'] = encoded['counts'].decode('ascii')
    return encoded


def write_gt(tmp_path, *, with_masks=False):
    images = [{'id': i, 'file_name': f'{i}.jpg', 'width': WIDTH, 'height': HEIGHT} for i in GROUND_TRUTH]
    annotations = []
    for image_id, objects in GROUND_TRUTH.items():
        for category_id, (x, y, w, h) in objects:
            ann = {'id': len(annotations) + 1, 'image_id': image_id, 'category_id': category_id,
                   'bbox': [x, y, w, h], 'area': w * h, 'iscrowd': 0}
            if with_masks:
                ann['segmentation'] = rle(box_mask((x, y, x + w, y + h)))
                ann['area'] = int(box_mask((x, y, x + w, y + h)).sum())
            annotations.append(ann)
    path = tmp_path / ('gt_masks.json' if with_masks else 'gt.json')
    path.write_text(json.dumps({'categories': CATEGORIES, 'images': images, 'annotations': annotations}))
    return str(path)


def make_samples(*, with_masks=False, with_gt=False):
    samples = []
    for image_id, predictions in PREDICTIONS.items():
        pred = {'bboxes': torch.tensor([p[1] for p in predictions], dtype=torch.float32),
                'scores': torch.tensor([p[2] for p in predictions], dtype=torch.float32),
                'labels': torch.tensor([p[0] for p in predictions])}
        if with_masks:
            pred['masks'] = torch.from_numpy(np.stack([box_mask(p[1]) for p in predictions]))
        sample = {'img_id': image_id, 'ori_shape': (HEIGHT, WIDTH), 'pred_instances': pred}
        if with_gt:
            objects = GROUND_TRUTH[image_id]
            boxes = [[x, y, x + w, y + h] for _, (x, y, w, h) in objects]
            gt = {'bboxes': torch.tensor(boxes, dtype=torch.float32),
                  'labels': torch.tensor([CATEGORY_OF_LABEL.index(c) for c, _ in objects])}
            if with_masks:
                gt['masks'] = np.stack([box_mask((x, y, x + w, y + h)) for _, (x, y, w, h) in objects])
            sample['gt_instances'] = gt
        samples.append(sample)
    return samples


def pycocotools_by_hand(ann_file, iou_type):
    results = []
    for image_id, predictions in PREDICTIONS.items():
        for label, (x1, y1, x2, y2), score in predictions:
            entry = {'image_id': image_id, 'category_id': CATEGORY_OF_LABEL[label],
                     'score': float(np.float32(score))}
            if iou_type == 'bbox':
                entry['bbox'] = [x1, y1, x2 - x1, y2 - y1]
            else:
                entry['segmentation'] = rle(box_mask((x1, y1, x2, y2)))
            results.append(entry)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(ann_file)
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(results), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


KEYS = ['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l',
        'AR@1', 'AR@10', 'AR@100', 'AR_s@100', 'AR_m@100', 'AR_l@100']


def run(metric, samples):
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_bbox_equals_pycocotools(tmp_path):
    ann_file = write_gt(tmp_path)
    metrics = run(CocoMetric(ann_file=ann_file), make_samples())
    expected = pycocotools_by_hand(ann_file, 'bbox')
    assert list(metrics) == [f'bbox_{k}' for k in KEYS]
    assert [metrics[f'bbox_{k}'] for k in KEYS] == expected.tolist()
    assert 0.2 < metrics['bbox_mAP'] < 0.9 and -1.0 in expected  # a non-trivial case (no large persons)


def test_segm_equals_pycocotools(tmp_path):
    ann_file = write_gt(tmp_path, with_masks=True)
    metrics = run(CocoMetric(ann_file=ann_file, metric=['bbox', 'segm']), make_samples(with_masks=True))
    assert [metrics[f'segm_{k}'] for k in KEYS] == pycocotools_by_hand(ann_file, 'segm').tolist()
    assert [metrics[f'bbox_{k}'] for k in KEYS] == pycocotools_by_hand(ann_file, 'bbox').tolist()


def test_ground_truth_from_data_samples_matches_ann_file(tmp_path):
    ann_file = write_gt(tmp_path, with_masks=True)
    metric = CocoMetric(metric=('bbox', 'segm'))
    metric.dataset_meta = {'classes': ('car', 'person')}
    metrics = run(metric, make_samples(with_masks=True, with_gt=True))
    assert [metrics[f'bbox_{k}'] for k in KEYS] == pycocotools_by_hand(ann_file, 'bbox').tolist()
    assert [metrics[f'segm_{k}'] for k in KEYS] == pycocotools_by_hand(ann_file, 'segm').tolist()


def test_classwise_proposal_nums_and_format_only(tmp_path):
    ann_file = write_gt(tmp_path)
    metrics = run(CocoMetric(ann_file=ann_file, classwise=True, proposal_nums=(1, 2, 3)), make_samples())
    assert {'bbox_car_precision', 'bbox_person_precision', 'bbox_AR@2', 'bbox_AR_l@3'} <= set(metrics)
    assert 0 < metrics['bbox_car_precision'] < 1
    prefix = str(tmp_path / 'out' / 'results')
    assert run(CocoMetric(ann_file=ann_file, format_only=True, outfile_prefix=prefix), make_samples()) == {}
    dumped = json.loads(open(prefix + '.bbox.json').read())
    assert len(dumped) == sum(len(p) for p in PREDICTIONS.values())
    assert dumped[0] == {'image_id': 1, 'category_id': 2, 'bbox': [12.0, 11.0, 58.0, 41.0],
                         'score': pytest.approx(0.9)}


def test_no_detections_reports_zero(tmp_path):
    empty = [{**s, 'pred_instances': {'bboxes': torch.zeros(0, 4), 'scores': torch.zeros(0),
                                      'labels': torch.zeros(0, dtype=torch.int64)}} for s in make_samples()]
    metrics = run(CocoMetric(ann_file=write_gt(tmp_path)), empty)
    assert metrics == {f'bbox_{k}': 0.0 for k in KEYS}


def test_through_mmengine_evaluator_with_duplicates(tmp_path):
    ann_file = write_gt(tmp_path)
    evaluator = Evaluator(dict(type='CocoMetric', ann_file=ann_file))
    elements = []
    for sample in make_samples():
        element = BaseDataElement(metainfo={'img_id': sample['img_id'], 'ori_shape': sample['ori_shape']})
        element.pred_instances = InstanceData(**sample['pred_instances'])
        elements.append(element)
    evaluator.process(elements[:2])
    evaluator.process(elements[2:] + elements[:1])  # sampler padding repeats image 1
    metrics = evaluator.evaluate(size=3)
    assert [metrics[f'coco/bbox_{k}'] for k in KEYS] == pycocotools_by_hand(ann_file, 'bbox').tolist()


def test_bad_input_names_the_problem(tmp_path):
    ann_file = write_gt(tmp_path)
    metric = CocoMetric(ann_file=ann_file)
    sample = make_samples()[0]
    with pytest.raises(ValueError, match='label 2, but there are only 2 classes'):
        metric.process({}, [{**sample, 'pred_instances': {**sample['pred_instances'],
                                                          'labels': torch.tensor([0, 1, 2, 0])}}])
    with pytest.raises(ValueError, match=r'bboxes must have shape \[n, 4\]'):
        metric.process({}, [{**sample, 'pred_instances': {**sample['pred_instances'],
                                                          'bboxes': torch.zeros(4, 2)}}])
    with pytest.raises(ValueError, match='img_id 99 is not an image of'):
        metric.process({}, [{**sample, 'img_id': 99}])
    with pytest.raises(ValueError, match='no metainfo "img_id"'):
        metric.process({}, [{'pred_instances': sample['pred_instances']}])
    with pytest.raises(ValueError, match='has no "masks", which metric "segm" needs'):
        CocoMetric(ann_file=write_gt(tmp_path, with_masks=True), metric='segm').process({}, [sample])
    with pytest.raises(ValueError, match='metric must be among'):
        CocoMetric(metric='keypoints')
    with pytest.raises(ValueError, match='format_only=True needs outfile_prefix'):
        CocoMetric(format_only=True)
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['segmentation'\]"):
        CocoMetric(ann_file=ann_file, metric='segm')
    data = json.loads(open(ann_file).read())
    del data['annotations'][1]['area']
    (tmp_path / 'no_area.json').write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"no_area.json: annotation #1 \(id=2\) lacks key\(s\) \['area'\]"):
        CocoMetric(ann_file=str(tmp_path / 'no_area.json'))
    with pytest.raises(ValueError, match='gt_instances'):
        CocoMetric().process({}, [sample])

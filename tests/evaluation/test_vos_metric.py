"""VOSMetric: DAVIS J and F on hand-computed cases, the protocol's frame selection, void
pixels, OTB box scores, CocoVID ground truth, collection and bad input."""
import json
import math

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.structures import InstanceData
from PIL import Image

from vmem.datasets.transforms import masks_to_boxes
from vmem.evaluation.metrics import VOSMetric
from vmem.evaluation.metrics.vos_measures import (boundary_f_measure, boundary_map, boundary_radius,
                                                  box_iou, center_error, precision_at, region_similarity,
                                                  success_curve)

H, W = 24, 32


def square(top=5, left=5, size=5, shape=(H, W)):
    mask = np.zeros(shape, bool)
    mask[top:top + size, left:left + size] = True
    return mask


# ---------------------------------------------------------------- J and F by hand
def test_identical_and_disjoint_masks():
    gt = square()
    assert region_similarity(gt, gt) == boundary_f_measure(gt, gt) == 1.0
    far = square(top=15, left=20)
    assert region_similarity(far, gt) == boundary_f_measure(far, gt) == 0.0
    empty = np.zeros_like(gt)
    assert region_similarity(empty, empty) == boundary_f_measure(empty, empty) == 1.0  # DAVIS: both empty
    assert region_similarity(empty, gt) == boundary_f_measure(empty, gt) == 0.0
    assert region_similarity(gt, empty) == boundary_f_measure(gt, empty) == 0.0


def test_boundary_is_offset_half_a_pixel_towards_the_origin():
    # rows/cols 5..9: the boundary is the square's own bottom row and right column, and the
    # row above it and column left of it (including the corner (4, 4)): 5 + 4 + 6 + 5 pixels
    boundary = boundary_map(square())
    expected = np.zeros((H, W), bool)
    expected[9, 5:10] = expected[5:9, 9] = True
    expected[4:10, 4] = expected[4, 5:10] = True
    np.testing.assert_array_equal(boundary, expected)
    assert not boundary_map(np.ones((H, W), bool)).any()  # the image border is not a boundary


def test_tolerance_is_a_fraction_of_the_diagonal():
    assert boundary_radius(480, 854) == 8  # ceil(0.008 * 979.6)
    assert boundary_radius(H, W) == 1  # ceil(0.008 * 40)
    assert boundary_radius(H, W, bound_th=3) == 3  # >= 1 means pixels


def test_one_and_two_pixel_shifts_of_a_square():
    gt = square()
    one = np.roll(gt, 1, axis=1)
    assert region_similarity(one, gt) == pytest.approx(20 / 30)
    # every boundary pixel moved by one pixel: within the 1-px tolerance at 24x32
    assert boundary_f_measure(one, gt) == 1.0
    # exact matching (radius 0): 10 of the 20 boundary pixels coincide (rows 4 and 9, cols 5..9
    # shifted onto cols 6..9 plus the corners (4, 5), (9, 5)) -> P = R = 0.5
    assert boundary_f_measure(one, gt, bound_th=0) == pytest.approx(0.5)
    two = np.roll(gt, 2, axis=1)
    assert region_similarity(two, gt) == pytest.approx(15 / 35)
    # radius 1 (a plus-shaped disk): predicted boundary pixels within reach of the true one are
    # rows 4 and 9 at cols 7..10 (8) and col 6 at rows 4, 5, 8, 9 (4): P = 12/20; by the same
    # count R = 12/20, so F = 0.6
    assert boundary_f_measure(two, gt) == pytest.approx(0.6)


def test_void_pixels_are_ignored():
    gt = square()
    pred = gt.copy()
    pred[5, 5:10] = False  # the prediction misses the top row ...
    pred[0, :] = True      # ... and paints the first image row
    void = np.zeros((H, W), bool)
    void[5, :] = void[0, :] = True  # both mistakes lie on void pixels
    assert region_similarity(pred, gt, void) == boundary_f_measure(pred, gt, void) == 1.0
    assert region_similarity(pred, gt) < 1 and boundary_f_measure(pred, gt) < 1


def test_box_measures_follow_otb():
    box = np.array([2.0, 2.0, 12.0, 12.0])
    assert box_iou(box, box) == 1.0 and center_error(box, box) == 0.0
    assert box_iou(box, box + 5) == pytest.approx(25 / 175)
    assert center_error(box, box + np.array([3, 4, 3, 4])) == 5.0
    # IoU must exceed each of 0, 0.05, ..., 1: a perfect box succeeds at 20 of the 21 thresholds
    assert success_curve([1.0, 1.0]).mean() == pytest.approx(20 / 21)
    assert success_curve([0.0, 0.0]).mean() == 0.0
    assert success_curve([0.5]).tolist() == [1.0] * 10 + [0.0] * 11
    assert precision_at([0.0, 20.0, 20.5, math.inf]) == 0.5


# ---------------------------------------------------------------- the metric on a DAVIS tree
def write_davis(root, sequences):
    """sequences: name -> list of label maps (uint8 [H, W])."""
    (root / 'ImageSets' / '2017').mkdir(parents=True)
    (root / 'ImageSets' / '2017' / 'val.txt').write_text('\n'.join(sequences) + '\n')
    for name, maps in sequences.items():
        folder = root / 'Annotations' / '480p' / name
        folder.mkdir(parents=True)
        (root / 'JPEGImages' / '480p' / name).mkdir(parents=True)
        for t, labels in enumerate(maps):
            image = Image.frombytes('P', (labels.shape[1], labels.shape[0]), labels.tobytes())
            image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
            image.save(folder / f'{t:05d}.png')
            frame_path = root / 'JPEGImages' / '480p' / name / f'{t:05d}.jpg'
            Image.new('RGB', (labels.shape[1], labels.shape[0])).save(frame_path)
    return str(root)


def labels_of(*objects):
    labels = np.zeros((H, W), np.uint8)
    for object_id, mask in objects:
        labels[mask] = object_id
    return labels


def frame(name, t, preds, video_id=0):
    """A data sample dict (what mmengine's Evaluator passes) with predictions {id: mask}."""
    ids = sorted(preds)
    masks = np.stack([preds[i] for i in ids]) if ids else np.zeros((0, H, W), bool)
    return {'video_name': name, 'video_id': video_id, 'frame_id': t, 'ori_shape': (H, W),
            'pred_track_instances': InstanceData(
                masks=torch.from_numpy(masks), instance_ids=torch.tensor(ids, dtype=torch.int64),
                scores=torch.ones(len(ids)), bboxes=torch.from_numpy(masks_to_boxes(masks)))}


def evaluate(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(len(samples))


@pytest.fixture
def five_frames(tmp_path):
    """One sequence 'seq' of 5 frames: object 1 = square(), object 2 enters at frame 2."""
    other = square(top=14, left=20)
    maps = [labels_of((1, square())) if t < 2 else labels_of((1, square()), (2, other)) for t in range(5)]
    return write_davis(tmp_path, {'seq': maps}), square(), other


def test_first_and_last_frames_are_not_scored(five_frames):
    root, one, two = five_frames
    wrong = square(top=15, left=0)
    # wrong on frame 0 and 4 only: still perfect
    samples = [frame('seq', t, {1: wrong if t in (0, 4) else one, 2: two}) for t in range(5)]
    scores = evaluate(VOSMetric(data_root=root), samples)
    assert scores['vos/J&F'] == 1.0
    # wrong on frame 1: object 1 scores J = F = 0 on 1 of its 3 frames (1, 2, 3); object 2
    # (prompted at frame 2) is scored on frame 3 only
    samples = [frame('seq', t, {1: wrong if t == 1 else one, 2: two}) for t in range(5)]
    metric = VOSMetric(data_root=root)
    scores = evaluate(metric, samples)
    assert scores['vos/J'] == pytest.approx((2 / 3 + 1) / 2)
    assert scores['vos/J_recall'] == pytest.approx((2 / 3 + 1) / 2)
    assert metric.per_object['seq_1']['J'] == pytest.approx(2 / 3)
    assert metric.per_sequence['seq']['objects'] == 2
    # the late object's own prompt frame is not scored either
    samples = [frame('seq', t, {1: one, 2: wrong if t == 2 else two}) for t in range(5)]
    assert evaluate(VOSMetric(data_root=root), samples)['vos/J&F'] == 1.0


def test_missing_predictions_are_empty_masks(five_frames):
    root, one, two = five_frames
    # object 2 never predicted, frame 3 never processed
    samples = [frame('seq', t, {1: one}) for t in (0, 1, 2, 4)]
    metric = VOSMetric(data_root=root)
    scores = evaluate(metric, samples)
    assert metric.per_object['seq_1']['J'] == pytest.approx(2 / 3)
    assert metric.per_object['seq_2']['J'] == 0.0
    assert scores['vos/J&F'] == pytest.approx(1 / 3)
    # box: object 1 visible on frames 1-4 (3 of them predicted), object 2 on 3-4 (none)
    assert scores['box/precision@20'] == pytest.approx((3 / 4 + 0) / 2)
    assert scores['box/success_auc'] == pytest.approx((3 / 4 * 20 / 21 + 0) / 2)


def test_object_overlap_tells_whether_objects_get_the_same_mask(five_frames):
    root, one, two = five_frames
    apart = [frame('seq', t, {1: one, 2: two}) for t in range(5)]
    assert evaluate(VOSMetric(data_root=root), apart)['vos/object_overlap'] == 0.0
    union = one | two
    same = [frame('seq', t, {1: union, 2: union}) for t in range(5)]
    assert evaluate(VOSMetric(data_root=root), same)['vos/object_overlap'] == 1.0
    # half the frames with both objects predicted identical, half apart; one mask alone: no pair
    mixed = [frame('seq', t, {1: union, 2: union} if t % 2 else {1: one, 2: two}) for t in range(4)]
    mixed.append(frame('seq', 4, {1: one}))
    assert evaluate(VOSMetric(data_root=root), mixed)['vos/object_overlap'] == pytest.approx(0.5)


def test_void_pixels_are_excluded_unless_asked(tmp_path):
    one = square()
    maps = []
    for _ in range(3):
        labels = labels_of((1, one))
        labels[5, :] = 255  # void over the object's top row
        maps.append(labels)
    root = write_davis(tmp_path, {'seq': maps})
    samples = [frame('seq', t, {1: one}) for t in range(3)]  # predicts the row under the void too
    assert evaluate(VOSMetric(data_root=root), samples)['vos/J'] == 1.0
    assert evaluate(VOSMetric(data_root=root, ignore_void=False), samples)['vos/J'] == pytest.approx(20 / 25)


def test_short_sequences_have_nothing_to_score(tmp_path):
    root = write_davis(tmp_path, {'two': [labels_of((1, square()))] * 2})
    scores = evaluate(VOSMetric(data_root=root), [frame('two', t, {1: square()}) for t in range(2)])
    assert math.isnan(scores['vos/J&F'])
    assert scores['box/precision@20'] == 1.0  # frame 1 still counts for boxes


def test_duplicates_and_repeated_evaluations(five_frames):
    root, one, two = five_frames
    metric = VOSMetric(data_root=root, prefix='davis')
    samples = [frame('seq', t, {1: one, 2: two}) for t in range(5)]
    first = evaluate(metric, samples + samples[:2])  # padded / repeated frames count once
    assert first['davis/vos/J&F'] == 1.0 and set(first) == {
        'davis/vos/J&F', 'davis/vos/J', 'davis/vos/F', 'davis/vos/J_recall', 'davis/vos/F_recall',
        'davis/box/success_auc', 'davis/box/precision@20', 'davis/vos/object_overlap'}
    assert evaluate(metric, samples) == first  # a second evaluation describes its sequences again
    # what ranks exchange: a few numbers per object and frame, never masks
    metric.process({}, samples)
    assert all(value.size <= 2 for record in metric.results
               for key, value in record.items() if isinstance(value, np.ndarray))
    # results gathered without evaluate() lack some sequence descriptions: read from the truth
    metric.results.clear()
    metric.process({}, samples)
    assert metric.compute_metrics(metric.results)['vos/J&F'] == 1.0


def test_cocovid_ground_truth(tmp_path):
    def rle(mask):
        encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        return {'size': [H, W], 'counts': encoded['counts'].decode('ascii')}

    one, two = square(), square(top=14, left=20)
    images, annotations = [], []
    for t in range(4):
        images.append({'id': t + 1, 'video_id': 7, 'frame_id': t, 'file_name': f'{t}.jpg',
                       'width': W, 'height': H})
        objects = [(1, one)] + ([(2, two)] if t >= 1 else [])
        for instance_id, mask in objects:
            annotations.append({'id': len(annotations) + 1, 'image_id': t + 1, 'category_id': 1,
                                'instance_id': instance_id, 'bbox': [0, 0, 1, 1], 'iscrowd': 0,
                                'segmentation': rle(mask)})
    path = tmp_path / 'vid.json'
    path.write_text(json.dumps({'categories': [{'id': 1, 'name': 'thing'}],
                                'videos': [{'id': 7, 'name': 'v'}],
                                'images': images, 'annotations': annotations}))
    metric = VOSMetric(ann_file=str(path))
    wrong = square(top=19, left=27)  # disjoint from both, centre 26 px from object 1's
    # object 2 is prompted at frame 1 and scored on frame 2; object 1 on frames 1 and 2
    samples = [frame('v', t, {1: one if t != 2 else wrong, 2: two}, video_id=7) for t in range(4)]
    scores = evaluate(metric, samples)
    assert metric.per_object['v_1'] == pytest.approx(
        {'J': 0.5, 'F': 0.5, 'J_recall': 0.5, 'F_recall': 0.5, 'success_auc': 2 / 3 * 20 / 21,
         'precision': 2 / 3})
    assert metric.per_object['v_2'] == pytest.approx(
        {'J': 1.0, 'F': 1.0, 'J_recall': 1.0, 'F_recall': 1.0, 'success_auc': 20 / 21, 'precision': 1.0})
    assert scores['vos/J&F'] == pytest.approx(0.75)


def test_bad_input_is_named(five_frames, tmp_path):
    root, one, two = five_frames
    with pytest.raises(ValueError, match='exactly one'):
        VOSMetric()
    with pytest.raises(ValueError, match='exactly one'):
        VOSMetric(data_root=root, ann_file='x.json')
    metric = VOSMetric(data_root=root)
    with pytest.raises(ValueError, match="'ghost' is not in the DAVIS val split"):
        metric.process({}, [frame('ghost', 0, {})])
    with pytest.raises(ValueError, match='frame_id 5 is outside'):
        metric.process({}, [frame('seq', 5, {})])
    small = frame('seq', 1, {})
    small['pred_track_instances'] = InstanceData(masks=torch.zeros(1, 12, 16, dtype=torch.bool),
                                                 instance_ids=torch.tensor([1]))
    with pytest.raises(ValueError, match=r"video 'seq', frame 1.*\(12, 16\).*original resolution"):
        metric.process({}, [small])
    soft = frame('seq', 1, {1: one})
    soft['pred_track_instances'].masks = soft['pred_track_instances'].masks.float()
    with pytest.raises(TypeError, match='threshold'):
        metric.process({}, [soft])
    with pytest.raises(ValueError, match='pred_track_instances'):
        metric.process({}, [{'video_name': 'seq', 'frame_id': 0}])
    with pytest.raises(FileNotFoundError, match=r'ImageSets/2017/test\.txt'):
        VOSMetric(data_root=root, split='test').process({}, [frame('seq', 0, {})])

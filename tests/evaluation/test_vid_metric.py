"""VIDMetric: the ImageNet VID protocol on hand-made cases, motion/degraded splits, dedup, bad input."""
import json
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement, InstanceData

from vmem.evaluation.metrics import VIDMetric
from vmem.evaluation.metrics.motion_iou import motion_ious
from vmem.evaluation.metrics.vid_errors import OUTCOMES, box_outcomes
from vmem.evaluation.metrics.vid_protocol import average_precision, frame_tp_fp, match_thresholds

CATEGORIES = [{'id': 5, 'name': 'cat'}, {'id': 9, 'name': 'dog'}]  # labels: cat=0, dog=1


def write_cocovid(tmp_path, frames, *, name='vid.json'):
    """frames: list of (video_id, frame_id, [(category_id, instance_id, xywh, extra_dict), ...])."""
    images, annotations = [], []
    for img_id, (video_id, frame_id, objects) in enumerate(frames, start=1):
        images.append({'id': img_id, 'video_id': video_id, 'frame_id': frame_id,
                       'file_name': f'{video_id}/{frame_id}.jpg', 'width': 640, 'height': 480})
        for category_id, instance_id, box, extra in objects:
            annotations.append({'id': len(annotations) + 1, 'image_id': img_id, 'video_id': video_id,
                                'category_id': category_id, 'instance_id': instance_id, 'bbox': list(box),
                                'area': box[2] * box[3], 'iscrowd': 0, **extra})
    path = tmp_path / name
    path.write_text(json.dumps({'categories': CATEGORIES, 'videos': [{'id': 1, 'name': 'v'}],
                                'images': images, 'annotations': annotations}))
    return str(path)


def xyxy(box):
    x, y, w, h = box
    return [x, y, x + w, y + h]


def sample(img_id, video_id, frame_id, boxes=(), scores=(), labels=(), gt=None):
    """A data sample as a dict (what mmengine's Evaluator hands a metric)."""
    result = {'img_id': img_id, 'video_id': video_id, 'frame_id': frame_id, 'ori_shape': (480, 640),
              'pred_instances': {'bboxes': torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                 'scores': torch.tensor(scores, dtype=torch.float32),
                                 'labels': torch.tensor(labels, dtype=torch.int64)}}
    if gt is not None:
        result['gt_instances'] = gt
    return result


def run(metric, samples):
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def moving_track(num_frames, start, step):
    """xywh boxes 40x40 moving by `step` px per frame."""
    return [(start[0] + step * t, start[1], 40, 40) for t in range(num_frames)]


@pytest.fixture
def three_speed_video(tmp_path):
    """21 frames: a still cat (slow), a dog jumping 27 px/frame (fast), a cat drifting 1 px/frame."""
    still = moving_track(21, (10, 10), 0)
    fast = moving_track(21, (0, 200), 60 / 2.2)
    drifting = moving_track(21, (300, 300), 1)
    frames = [(1, t, [(5, 1, still[t], {}), (9, 2, fast[t], {}), (5, 3, drifting[t], {})]) for t in range(21)]
    return write_cocovid(tmp_path, frames), frames


def perfect_samples(frames, label_of={5: 0, 9: 1}):
    return [sample(i, video, frame, [xyxy(o[2]) for o in objects], [0.9] * len(objects),
                   [label_of[o[0]] for o in objects])
            for i, (video, frame, objects) in enumerate(frames, start=1)]


def test_motion_iou_static_fast_single_and_window():
    static = np.array([[0, 0, 10, 10]] * 5, dtype=float)
    fast = np.array([[20 * t, 0, 20 * t + 10, 10] for t in range(5)], dtype=float)
    lonely = np.array([[0, 0, 10, 10]], dtype=float)
    far = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)  # frames 0 and 11: outside the window
    boxes = np.concatenate([static, fast, lonely, far])
    tracks = np.array([0] * 5 + [1] * 5 + [2] + [3, 3])
    frames = np.array(list(range(5)) + list(range(5)) + [0] + [0, 11])
    motion = motion_ious(tracks, frames, boxes)
    np.testing.assert_allclose(motion[:5], 1.0)
    np.testing.assert_allclose(motion[5:10], 0.0)
    assert motion[10] == 0.0 and (motion[11:] == 0.0).all()
    # half-overlapping neighbours: IoU 1/3 each side
    shifted = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], dtype=float)
    np.testing.assert_allclose(motion_ious(np.array([0, 0]), np.array([3, 4]), shifted), [1 / 3, 1 / 3])
    with pytest.raises(ValueError, match='two boxes in frame 4'):
        motion_ious(np.array([0, 0]), np.array([4, 4]), shifted)


def test_motion_groups_of_hand_made_track(three_speed_video):
    ann_file, frames = three_speed_video
    boxes = np.array([xyxy(o[2]) for _, _, objects in frames for o in objects], dtype=float)
    tracks = np.array([o[1] for _, _, objects in frames for o in objects])
    frame_ids = np.array([f for _, f, objects in frames for _ in objects])
    motion = motion_ious(tracks, frame_ids, boxes)
    assert (motion[tracks == 1] == 1.0).all()          # still -> slow
    assert (motion[tracks == 2] < 0.7).all()           # jumping -> fast
    assert ((motion[tracks == 3] > 0.7) & (motion[tracks == 3] < 0.9)).all()  # drifting -> medium


def test_perfect_detector_scores_one_overall_and_per_group(three_speed_video):
    ann_file, frames = three_speed_video
    metrics = run(VIDMetric(ann_file=ann_file, classwise=True), perfect_samples(frames))
    assert metrics == {'mAP': 1.0, 'mAP_fast': 1.0, 'mAP_medium': 1.0, 'mAP_slow': 1.0,
                       'AP_cat': 1.0, 'AP_dog': 1.0}


def test_missing_detections_only_hurt_their_motion_group(three_speed_video):
    ann_file, frames = three_speed_video
    samples = perfect_samples(frames)
    for s in samples:  # drop the fast dog everywhere
        keep = s['pred_instances']['labels'] != 1
        s['pred_instances'] = {k: v[keep] for k, v in s['pred_instances'].items()}
    metrics = run(VIDMetric(ann_file=ann_file), samples)
    assert metrics['mAP_fast'] == 0.0 and metrics['mAP_slow'] == 1.0 and metrics['mAP_medium'] == 1.0
    assert metrics['mAP'] == 0.5  # cat 1.0, dog 0.0


@pytest.mark.parametrize('shift,expected', [(33, 1.0), (34, 0.0)])
def test_iou_just_above_and_below_half(tmp_path, shift, expected):
    # 100x100 box shifted by d: IoU = (100-d)/(100+d); 0.504 for d=33, 0.493 for d=34
    ann_file = write_cocovid(tmp_path, [(1, 0, [(5, 1, (100, 100, 100, 100), {})])])
    metric = VIDMetric(ann_file=ann_file, motion_groups=False)
    shifted = [[100 + shift, 100, 200 + shift, 200]]
    assert run(metric, [sample(1, 1, 0, shifted, [0.8], [0])]) == {'mAP': expected}


@pytest.mark.parametrize('shift,expected', [(6.0, 1.0), (6.1, 0.0)])
def test_small_object_threshold(tmp_path, shift, expected):
    # a 10x10 box needs IoU >= 100/400 = 0.25; a shift of 6 gives exactly 4/16
    assert match_thresholds(np.array([[0, 0, 10, 10.]]))[0] == 0.25
    ann_file = write_cocovid(tmp_path, [(1, 0, [(5, 1, (50, 50, 10, 10), {})])])
    metric = VIDMetric(ann_file=ann_file, motion_groups=False)
    assert run(metric, [sample(1, 1, 0, [[50 + shift, 50, 60 + shift, 60]], [0.8], [0])])['mAP'] == expected


@pytest.mark.parametrize('pixel_inclusive,expected', [(False, 0.0), (True, 1.0)])
def test_pixel_inclusive_uses_devkit_widths(tmp_path, pixel_inclusive, expected):
    # shift 6.2 of a 10x10 box: continuous IoU 0.235 < 0.25; with the devkit's +1 widths
    # the box is 11x11, its threshold 121/441 = 0.274 and the IoU 52.8/189.2 = 0.279
    ann_file = write_cocovid(tmp_path, [(1, 0, [(5, 1, (50, 50, 10, 10), {})])])
    metric = VIDMetric(ann_file=ann_file, motion_groups=False, pixel_inclusive=pixel_inclusive)
    assert run(metric, [sample(1, 1, 0, [[56.2, 50, 66.2, 60]], [0.8], [0])])['mAP'] == expected


def test_greedy_matching_and_all_point_ap(tmp_path):
    # two cats in one frame; detections by score: TP, duplicate of the first cat (FP), TP
    ann_file = write_cocovid(tmp_path, [(1, 0, [(5, 1, (0, 0, 50, 50), {}), (5, 2, (200, 0, 50, 50), {})])])
    boxes = [[0, 0, 50, 50], [1, 1, 51, 51], [200, 0, 250, 50]]
    metric = VIDMetric(ann_file=ann_file, motion_groups=False)
    metrics = run(metric, [sample(1, 1, 0, boxes, [0.9, 0.8, 0.7], [0, 0, 0])])
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> area 0.5 * 1 + 0.5 * 2/3
    assert metrics['mAP'] == pytest.approx(0.5 + 1 / 3)
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([1., 0, 1]), np.array([0., 1, 0]), 2) \
        == pytest.approx(0.5 + 1 / 3)


def test_wrong_class_detection_does_not_match(tmp_path):
    ann_file = write_cocovid(tmp_path, [(1, 0, [(5, 1, (0, 0, 50, 50), {})])])
    metric = VIDMetric(ann_file=ann_file, motion_groups=False)
    metrics = run(metric, [sample(1, 1, 0, [[0, 0, 50, 50]], [0.9], [1])])
    assert metrics == {'mAP': 0.0}  # cat missed; dog has no ground truth so it is not averaged


def test_subset_false_positive_weights_follow_fgfa():
    iou = np.array([[0.3, 0.1], [0.1, 0.3], [0.0, 0.0], [0.9, 0.0]])
    matched = np.array([-1, -1, -1, 0])
    ignored = np.array([False, True])
    tp, fp = frame_tp_fp(matched, iou, ignored, empty_frame_weight=0.25)
    assert tp.tolist() == [0, 0, 0, 1]
    assert fp.tolist() == [1.0, 0.0, 0.5, 0.0]  # nearest kept, nearest ignored, tie -> ignored share
    tp, fp = frame_tp_fp(np.array([0]), np.array([[0.9]]), np.array([True]), 0.25)
    assert tp.tolist() == [0] and fp.tolist() == [0.0]  # matched to ignored: neither
    tp, fp = frame_tp_fp(np.array([-1]), np.zeros((1, 0)), np.zeros(0, bool), 0.25)
    assert fp.tolist() == [0.25]  # no ground truth in the frame: the subset's share


def test_duplicated_frames_count_once(tmp_path):
    # frame 0 found, frame 1 missed: AP 0.5. Counting frame 0 twice would give 2/3.
    truth = [(1, 0, [(5, 1, (0, 0, 50, 50), {})]), (1, 1, [(5, 1, (0, 0, 50, 50), {})])]
    ann_file = write_cocovid(tmp_path, truth)
    found = sample(1, 1, 0, [[0, 0, 50, 50]], [0.9], [0])
    missed = sample(2, 1, 1)
    assert run(VIDMetric(ann_file=ann_file, motion_groups=False), [found, found, missed]) == {'mAP': 0.5}

    def with_gt(s):
        gt = {'bboxes': torch.tensor([[0., 0, 50, 50]]), 'labels': torch.tensor([0]),
              'instance_ids': torch.tensor([1])}
        return {**s, 'gt_instances': gt}
    metric = VIDMetric()
    metric.dataset_meta = {'classes': ('cat', 'dog')}
    metric.process({}, [with_gt(found), with_gt(missed), with_gt(found)])
    result = metric.evaluate(size=2)  # the still cat is slow; no fast or medium objects
    assert result['vid/mAP'] == 0.5 and result['vid/mAP_slow'] == 0.5
    assert math.isnan(result['vid/mAP_fast']) and math.isnan(result['vid/mAP_medium'])


def test_degraded_and_clean_split(tmp_path):
    frames = [(1, t, [(5, 1, (10, 10, 40, 40), {'degraded': t % 2 == 1})]) for t in range(4)]
    ann_file = write_cocovid(tmp_path, frames)
    # the detector finds the cat only on clean frames, and fires a stray box on degraded ones
    samples = [sample(t + 1, 1, t, [[10, 10, 50, 50]], [0.9], [0]) if t % 2 == 0
               else sample(t + 1, 1, t, [[400, 400, 440, 440]], [0.95], [0]) for t in range(4)]
    metrics = run(VIDMetric(ann_file=ann_file), samples)
    assert metrics['mAP_clean'] == 1.0  # stray boxes lie nearest degraded objects: not charged
    assert metrics['mAP_degraded'] == 0.0
    # overall: FP, FP, TP, TP by score over 4 objects -> precision 1/2 up to recall 1/2
    assert metrics['mAP'] == pytest.approx(0.25)


def test_box_outcomes_in_order_of_precedence():
    gt = np.array([[0, 0, 40, 40], [100, 0, 140, 40], [200, 0, 240, 40], [300, 0, 340, 40],
                   [400, 0, 440, 40], [500, 0, 540, 40]], dtype=np.float64)
    labels = np.array([0, 0, 0, 0, 0, 0])
    dets = np.array([[0, 0, 40, 40], [0, 0, 40, 40],          # right 0.6 beats wrong 0.5: found
                     [100, 0, 140, 40], [100, 0, 140, 40],    # wrong 0.9 beats right 0.3: outscored
                     [200, 0, 240, 40],                       # wrong class only
                     [315, 0, 355, 40],                       # IoU 25/55 = 0.45: mislocalised
                     [428, 0, 468, 40]],                      # IoU 12/68 = 0.18: missed
                    dtype=np.float64)
    scores = np.array([0.6, 0.5, 0.3, 0.9, 0.8, 0.9, 0.9])
    det_labels = np.array([0, 1, 0, 1, 1, 0, 0])
    outcome = box_outcomes(dets, scores, det_labels, gt, labels, np.full(6, 0.5))
    assert [OUTCOMES[i] for i in outcome] == ['found', 'outscored', 'wrong_class', 'mislocalised', 'missed',
                                              'missed']
    none = box_outcomes(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), gt, labels, np.full(6, 0.5))
    assert (none == OUTCOMES.index('missed')).all()


def test_error_breakdown_shares_per_subset(tmp_path):
    frames = [(1, t, [(5, 1, (10, 10, 40, 40), {'degraded': t >= 2})]) for t in range(4)]
    ann_file = write_cocovid(tmp_path, frames)
    # clean frames: found; degraded frames: named dog (outscoring a weaker cat box) once, missed once
    samples = [sample(1, 1, 0, [[10, 10, 50, 50]], [0.9], [0]), sample(2, 1, 1, [[10, 10, 50, 50]], [0.9], [0]),
               sample(3, 1, 2, [[10, 10, 50, 50]] * 2, [0.8, 0.4], [1, 0]), sample(4, 1, 3)]
    metrics = run(VIDMetric(ann_file=ann_file, error_breakdown=True), samples)
    assert metrics['errors_clean_found'] == 1.0 and metrics['errors_clean_missed'] == 0.0
    assert metrics['errors_degraded_outscored'] == 0.5 and metrics['errors_degraded_missed'] == 0.5
    assert metrics['errors_all_found'] == 0.5
    assert sum(metrics[f'errors_all_{o}'] for o in OUTCOMES) == pytest.approx(1.0)
    assert not any(key.startswith('errors_') for key in run(VIDMetric(ann_file=ann_file), samples))


def test_metric_through_mmengine_evaluator(three_speed_video):
    ann_file, frames = three_speed_video
    evaluator = Evaluator(dict(type='VIDMetric', ann_file=ann_file))
    evaluator.dataset_meta = {'classes': ('cat', 'dog')}
    data_samples = []
    for s in perfect_samples(frames):  # DetDataSample-like objects, converted by the Evaluator
        element = BaseDataElement(metainfo={k: s[k] for k in ('img_id', 'video_id', 'frame_id', 'ori_shape')})
        element.pred_instances = InstanceData(**s['pred_instances'])
        data_samples.append(element)
    for start in range(0, len(data_samples), 4):
        evaluator.process(data_samples[start:start + 4] + data_samples[:1])  # with padding duplicates
    assert evaluator.evaluate(size=len(frames)) == {
        'vid/mAP': 1.0, 'vid/mAP_fast': 1.0, 'vid/mAP_medium': 1.0, 'vid/mAP_slow': 1.0}


def test_clip_samples_contribute_their_predicted_frames(tmp_path):
    truth = [(1, t, [(5, 1, (0, 0, 50, 50), {})]) for t in range(3)]
    ann_file = write_cocovid(tmp_path, truth)

    def frame(t, predicted):
        element = BaseDataElement(metainfo={'img_id': t + 1, 'video_id': 1, 'frame_id': t})
        if predicted:
            element.pred_instances = InstanceData(bboxes=torch.tensor([[0., 0, 50, 50]]),
                                                  scores=torch.tensor([0.9]), labels=torch.tensor([0]))
        return element
    # what TrackDataSample.to_dict() gives: the key frame predicted, reference frames not
    clips = [{'video_data_samples': [frame(t, True), frame(max(t - 1, 0), False)], 'key_frames_inds': [0]}
             for t in range(2)]
    assert run(VIDMetric(ann_file=ann_file, motion_groups=False), clips)['mAP'] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match='a clip of 1 frames, none with "pred_instances"'):
        VIDMetric(ann_file=ann_file).process({}, [{'video_data_samples': [frame(0, False)]}])


def test_bad_input_names_the_problem(tmp_path):
    ann_file = write_cocovid(tmp_path, [(1, 0, [(5, 1, (0, 0, 50, 50), {})])])
    metric = VIDMetric(ann_file=ann_file)
    bad_shape = sample(1, 1, 0, [[0, 0, 50, 50]], [0.9], [0])
    bad_shape['pred_instances']['bboxes'] = torch.zeros(1, 5)
    with pytest.raises(ValueError, match=r'bboxes must have shape \[n, 4\]'):
        metric.process({}, [bad_shape])
    with pytest.raises(ValueError, match='label 2, but there are only 2 classes'):
        metric.process({}, [sample(1, 1, 0, [[0, 0, 50, 50]], [0.9], [2])])
    with pytest.raises(ValueError, match=r'scores must have shape \[1\]'):
        metric.process({}, [sample(1, 1, 0, [[0, 0, 50, 50]], [0.9, 0.1], [0])])
    with pytest.raises(ValueError, match='img_id 7 is not an image of'):
        metric.process({}, [sample(7, 1, 0)])
    with pytest.raises(ValueError, match=r'\(video_id, frame_id\) = \(1, 3\) disagrees with'):
        metric.process({}, [sample(1, 1, 3)])
    with pytest.raises(TypeError, match='expected a DetDataSample or a dict'):
        metric.process({}, [[1, 2, 3]])
    with pytest.raises(FileNotFoundError, match='nope.json'):
        VIDMetric(ann_file=str(tmp_path / 'nope.json'))
    data = json.loads(open(ann_file).read())
    del data['annotations'][0]['category_id']
    (tmp_path / 'broken.json').write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"broken.json: annotation #0 \(id=1\) lacks key\(s\) "
                                         r"\['category_id'\]"):
        VIDMetric(ann_file=str(tmp_path / 'broken.json'))
    data = json.loads(open(ann_file).read())
    del data['annotations'][0]['instance_id']
    (tmp_path / 'no_instances.json').write_text(json.dumps(data))
    with pytest.raises(ValueError, match='has no "instance_id"'):
        VIDMetric(ann_file=str(tmp_path / 'no_instances.json'))
    assert run(VIDMetric(ann_file=str(tmp_path / 'no_instances.json'), motion_groups=False),
               [sample(1, 1, 0, [[0, 0, 50, 50]], [0.9], [0])]) == {'mAP': 1.0}


def _evaluate_on_rank(rank, world_size, ann_file, work_dir, shares):
    torch.distributed.init_process_group('gloo', init_method=f'file://{work_dir}/rendezvous',
                                         rank=rank, world_size=world_size)
    try:
        metric = VIDMetric(ann_file=ann_file, motion_groups=False, collect_dir=f'{work_dir}/collect')
        metric.process({}, [sample(*frame) for frame in shares[rank]])
        result = metric.evaluate(size=sum(len(s) for s in shares) - 1)  # minus the padding
        if rank == 0:
            with open(f'{work_dir}/result.json', 'w') as f:
                json.dump(result, f)
    finally:
        torch.distributed.destroy_process_group()


def test_two_ranks_with_whole_videos_and_padding(tmp_path):
    # video 1 (3 frames) on rank 0, video 2 (1 frame + a padding copy) on rank 1. mmengine's
    # default collection interleaves the ranks and cuts at the dataset size: it would drop
    # frame 2 of video 1 (a found cat) and keep the padding.
    truth = [(1, t, [(5, 1, (0, 0, 50, 50), {})]) for t in range(3)] + [(2, 0, [(9, 2, (0, 0, 50, 50), {})])]
    ann_file = write_cocovid(tmp_path, truth)
    video_1 = [(1, 1, 0, [[0, 0, 50, 50]], [0.9], [0]), (2, 1, 1), (3, 1, 2, [[0, 0, 50, 50]], [0.8], [0])]
    shares = [video_1, [(4, 2, 0, [[0, 0, 50, 50]], [0.9], [1])] * 2]
    torch.multiprocessing.spawn(_evaluate_on_rank, args=(2, ann_file, str(tmp_path), shares), nprocs=2)
    result = json.loads((tmp_path / 'result.json').read_text())
    assert result == {'vid/mAP': pytest.approx((2 / 3 + 1) / 2)}  # cat: 2 of 3 found; dog found

"""AnomalyMetric against brute-force references and hand-made cases."""
import itertools

import numpy as np
import pytest
import torch

from vmem.evaluation.metrics import AnomalyMetric
from vmem.evaluation.metrics.anomaly_metric import auroc, f1_max, pro_score
from vmem.structures import DetDataSample


def brute_force_auroc(scores, labels):
    positives = [s for s, l in zip(scores, labels) if l]
    negatives = [s for s, l in zip(scores, labels) if not l]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(positives, negatives))
    return wins / (len(positives) * len(negatives))


def brute_force_f1_max(scores, labels):
    best = 0.0
    for threshold in set(scores):
        predicted = np.asarray(scores) >= threshold
        tp = int((predicted & labels).sum())
        fp, fn = int((predicted & ~labels).sum()), int((~predicted & labels).sum())
        best = max(best, 2 * tp / (2 * tp + fp + fn))
    return best


@pytest.mark.parametrize('seed', range(5))
def test_auroc_and_f1_match_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 40).astype(float)  # many ties
    labels = rng.random(40) < 0.4
    assert auroc(scores, labels) == pytest.approx(brute_force_auroc(scores, labels))
    assert f1_max(scores, labels) == pytest.approx(brute_force_f1_max(scores, labels))


def test_auroc_needs_both_classes():
    with pytest.raises(ValueError, match='both classes'):
        auroc(np.ones(3), np.ones(3))


def test_pro_of_perfect_and_hand_made_maps():
    mask = np.zeros((10, 10), bool)
    mask[1:3, 1:3] = True      # region A, 4 px
    mask[6:10, 6:10] = True    # region B, 16 px
    assert pro_score([mask.astype(float)], [mask]) == pytest.approx(1.0)
    # Region A is found at a score no normal pixel reaches; region B only at the lowest
    # score, shared with every normal pixel. The curve's points are (FPR 0, PRO 0.5) and
    # (1, 1), joined linearly as in the MVTec AD evaluation code: PRO(0.3) = 0.65 and the
    # normalised area up to 0.3 is (0.5 + 0.65) / 2 = 0.575.
    anomaly_map = np.zeros((10, 10))
    anomaly_map[1:3, 1:3] = 1.0
    assert pro_score([anomaly_map], [mask], max_fpr=0.3) == pytest.approx(0.575)
    # Half of region B too: (0, 0.75) to (1, 1); PRO(0.3) = 0.825, area (0.75 + 0.825) / 2
    anomaly_map[6:8, 6:10] = 1.0
    assert pro_score([anomaly_map], [mask], max_fpr=0.3) == pytest.approx(0.7875)


def test_pro_interpolates_at_the_fpr_limit():
    mask = np.zeros((1, 10), bool)
    mask[0, 0] = True
    # normal pixels 1..9 score 9..1; the anomalous pixel scores 5: found after 4 of 9 normals
    anomaly_map = np.array([[5.0, 9, 8, 7, 6, 4, 3, 2, 1, 0.5]])
    # PRO(FPR) is 0 until FPR 4/9 > 0.3: the area up to 0.3 is 0
    assert pro_score([anomaly_map], [mask], max_fpr=0.3) == pytest.approx(0.0)
    # up to FPR 1: 0 until 4/9, where it steps to 1 (two points at FPR 4/9): area 5/9
    assert pro_score([anomaly_map], [mask], max_fpr=1.0) == pytest.approx(5 / 9)


def sample(category, label, score, anomaly_map, mask):
    data_sample = DetDataSample(metainfo=dict(category=category, gt_label=label, has_mask=True))
    data_sample.pred_anomaly_score = score
    data_sample.pred_anomaly_map = torch.as_tensor(anomaly_map, dtype=torch.float32)
    data_sample.gt_anomaly_mask = torch.as_tensor(mask)
    return data_sample


def test_metric_reports_every_number_per_category_and_the_mean():
    metric = AnomalyMetric()
    empty = np.zeros((4, 4), bool)
    defect = empty.copy()
    defect[1:3, 1:3] = True
    for category in ('a', 'b'):
        metric.process({}, [sample(category, 0, 0.1, np.zeros((4, 4)), empty),
                            sample(category, 1, 0.9, defect.astype(float), defect),
                            sample(category, 0, 0.2, np.zeros((4, 4)), empty)])
    results = metric.compute_metrics(metric.results)
    for key in ('a/image_AUROC', 'b/pixel_AUROC', 'a/PRO', 'a/image_F1max', 'mean/PRO'):
        assert results[key] == pytest.approx(1.0), key


def test_metric_refuses_a_map_of_the_wrong_size():
    metric = AnomalyMetric()
    with pytest.raises(ValueError, match='anomaly map is'):
        metric.process({}, [sample('a', 1, 0.5, np.zeros((4, 4)), np.zeros((5, 5), bool))])

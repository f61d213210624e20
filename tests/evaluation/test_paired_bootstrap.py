"""VIDOutcomes (mAP over any multiset of videos) and the paired bootstrap built on it."""
import numpy as np
import pytest

from vmem.evaluation import VIDOutcomes, paired_bootstrap
from vmem.evaluation.metrics import VIDMetric

from test_vid_metric import run, sample, write_cocovid, xyxy


def videos_and_detections(seed, video_ids, *, quality):
    """Per video 6 frames with a cat and a dog; detections jittered, some missed or mislabelled."""
    rng = np.random.default_rng(seed)
    frames, samples = [], []
    for video in video_ids:
        for t in range(6):
            objects = [(5, 1, (20 + 3 * t, 30, 60, 50), {}), (9, 2, (300, 200 + 2 * t, 80, 70), {})]
            frames.append((video, t, objects))
    for img_id, (video, t, objects) in enumerate(frames, start=1):
        boxes, scores, labels = [], [], []
        for category, _, box, _ in objects:
            if rng.random() < quality:
                boxes.append((np.array(xyxy(box)) + rng.normal(0, 2, 4)).tolist())
                labels.append(0 if category == 5 else int(rng.random() < 0.2))
                scores.append(rng.random())
        boxes.append([500, 400, 540, 440])   # a stray box on every frame
        scores.append(rng.random())
        labels.append(int(rng.integers(0, 2)))
        samples.append(sample(img_id, video, t, boxes, scores, labels))
    return frames, samples


def outcomes_of(tmp_path, frames, samples, name):
    path = tmp_path / f'{name}.npz'
    metrics = run(VIDMetric(ann_file=write_cocovid(tmp_path, frames, name=f'{name}.json'),
                            outcomes_file=str(path)), samples)
    return metrics, VIDOutcomes.load(path)


def test_outcomes_reproduce_the_metric_and_weights_equal_duplicated_videos(tmp_path):
    frames, samples = videos_and_detections(0, [1, 2, 3], quality=0.7)
    metrics, outcomes = outcomes_of(tmp_path, frames, samples, 'three')
    assert outcomes.mean_ap() == pytest.approx(metrics['mAP'], abs=1e-12)
    assert outcomes.videos.tolist() == [[0, 1], [0, 2], [0, 3]]
    # weights (2, 0, 1): video 1 twice (a copy as video 4), video 2 left out
    kept = [(f, s) for f, s in zip(frames, samples) if f[0] != 2]
    copies = [((4, t, objects), dict(s, video_id=4)) for (video, t, objects), s in zip(frames, samples) if video == 1]
    multiset = kept + copies
    multiset_samples = [dict(s, img_id=i) for i, (_, s) in enumerate(multiset, start=1)]
    duplicated, _ = outcomes_of(tmp_path, [f for f, _ in multiset], multiset_samples, 'multiset')
    assert outcomes.mean_ap('all', np.array([2.0, 0.0, 1.0])) == pytest.approx(duplicated['mAP'], abs=1e-12)


def test_a_model_better_on_every_video_gets_an_interval_above_zero(tmp_path):
    frames, weak = videos_and_detections(1, range(1, 13), quality=0.5)
    _, strong = videos_and_detections(1, range(1, 13), quality=1.0)
    _, base = outcomes_of(tmp_path, frames, weak, 'weak')
    _, other = outcomes_of(tmp_path, frames, strong, 'strong')
    result = paired_bootstrap(base, other, num_samples=300)
    assert result.gain > 0 and result.low > 0 and result.excludes_zero
    assert result.win_rate > 0.8 and result.num_videos == 12
    assert 'paired bootstrap over 12 videos' in result.describe()
    same = paired_bootstrap(base, base, num_samples=50)
    assert same.gain == 0 and same.low == 0 and same.high == 0 and same.win_rate == 0.5
    assert not same.excludes_zero


def test_results_of_different_splits_are_refused(tmp_path):
    frames, samples = videos_and_detections(2, [1, 2], quality=0.8)
    _, first = outcomes_of(tmp_path, frames, samples, 'first')
    frames, samples = videos_and_detections(2, [1, 2, 3], quality=0.8)
    _, second = outcomes_of(tmp_path, frames, samples, 'second')
    with pytest.raises(ValueError, match='not from the same videos'):
        paired_bootstrap(first, second)
    (tmp_path / 'bad.npz').write_bytes(b'not an npz')
    with pytest.raises(ValueError, match='bad.npz: not a VID outcomes file'):
        VIDOutcomes.load(tmp_path / 'bad.npz')


def test_the_compare_outcomes_tool_prints_each_subsets_gain(tmp_path, capsys):
    import importlib.util
    from pathlib import Path
    tool = Path(__file__).resolve().parents[2] / 'tools' / 'analysis' / 'compare_outcomes.py'
    spec = importlib.util.spec_from_file_location('compare_outcomes', tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frames, weak = videos_and_detections(0, range(8), quality=0.5)
    _, strong = videos_and_detections(1, range(8), quality=0.95)
    outcomes_of(tmp_path, frames, weak, 'base')
    outcomes_of(tmp_path, frames, strong, 'other')
    assert module.main([str(tmp_path / 'base.npz'), str(tmp_path / 'other.npz'), '--samples', '200']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and lines[0].startswith('all: other - base: +') and 'paired bootstrap over 8 videos' in lines[0]
    assert module.main([str(tmp_path / 'base.npz'), str(tmp_path / 'missing.npz')]) == 1

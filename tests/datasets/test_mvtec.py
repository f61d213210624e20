"""MVTecDataset and its transforms on a tiny generated set in the MVTec AD layout."""
import cv2
import numpy as np
import pytest
import torch

from vmem.datasets import MVTecDataset
from vmem.datasets.synthetic_anomaly import generate_category, generate_synthetic_anomaly

PIPELINE = [dict(type='LoadFrame'), dict(type='LoadAnomalyMask'),
            dict(type='Resize', scale=(32, 32), keep_ratio=False), dict(type='PackAnomalyInputs')]


@pytest.fixture
def root(tmp_path):
    generate_category(tmp_path, 'dots', num_train=5, num_test_good=2, num_test_per_defect=2, size=48, seed=0)
    return tmp_path


def test_splits_labels_and_masks(root):
    train = MVTecDataset(data_root=str(root), split='train', pipeline=PIPELINE)
    assert len(train) == 5 and train.metainfo['classes'] == ('dots',)
    test = MVTecDataset(data_root=str(root), categories=['dots'], split='test', pipeline=PIPELINE)
    assert len(test) == 2 + 3 * 2
    by_defect = {}
    for index in range(len(test)):
        item = test[index]
        sample = item['data_samples']
        assert item['inputs'].shape == (3, 32, 32) and item['inputs'].dtype == torch.uint8
        assert sample.gt_anomaly_mask.shape == (32, 32)
        by_defect.setdefault(sample.metainfo['defect_type'], []).append(sample)
    assert sorted(by_defect) == ['blob', 'good', 'missing', 'scratch']
    assert all(s.metainfo['gt_label'] == 0 and not s.gt_anomaly_mask.any() for s in by_defect['good'])
    assert all(s.metainfo['gt_label'] == 1 and s.gt_anomaly_mask.any() for s in by_defect['blob'])


def test_generator_is_seeded_and_writes_every_category(tmp_path):
    generate_synthetic_anomaly(tmp_path / 'a', num_train=1, num_test_good=1, num_test_per_defect=1, size=32)
    generate_synthetic_anomaly(tmp_path / 'b', num_train=1, num_test_good=1, num_test_per_defect=1, size=32)
    for relative in ('weave/test/blob/000.png', 'noise/ground_truth/missing/000_mask.png'):
        first, second = cv2.imread(str(tmp_path / 'a' / relative)), cv2.imread(str(tmp_path / 'b' / relative))
        assert np.array_equal(first, second)


def test_few_shot_keeps_k_seeded_images(root):
    four = MVTecDataset(data_root=str(root), split='train', num_shots=4, shot_seed=3)
    again = MVTecDataset(data_root=str(root), split='train', num_shots=4, shot_seed=3)
    assert len(four) == 4 and [d['img_path'] for d in four.data_list] == [d['img_path'] for d in again.data_list]
    with pytest.raises(ValueError, match='num_shots=9 .* only 5'):
        MVTecDataset(data_root=str(root), split='train', num_shots=9)
    with pytest.raises(ValueError, match='train split only'):
        MVTecDataset(data_root=str(root), split='test', num_shots=2)


def test_grayscale_and_rgba_images_become_rgb(root):
    image_path = root / 'dots' / 'test' / 'blob' / '000.png'
    rgb = cv2.imread(str(image_path))
    cv2.imwrite(str(image_path), cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY))
    other = root / 'dots' / 'test' / 'blob' / '001.png'
    cv2.imwrite(str(other), cv2.cvtColor(cv2.imread(str(other)), cv2.COLOR_BGR2BGRA))
    test = MVTecDataset(data_root=str(root), split='test', pipeline=PIPELINE)
    for index, info in enumerate(test.data_list):
        if info['defect_type'] == 'blob':
            assert test[index]['inputs'].shape == (3, 32, 32)


def test_a_mask_of_the_wrong_size_names_the_file(root):
    mask_path = root / 'dots' / 'ground_truth' / 'scratch' / '001_mask.png'
    cv2.imwrite(str(mask_path), np.zeros((20, 30), np.uint8))
    test = MVTecDataset(data_root=str(root), split='test', pipeline=PIPELINE)
    index = next(i for i, d in enumerate(test.data_list) if d['mask_path'] == str(mask_path))
    with pytest.raises(ValueError, match='001_mask.png.* is 20x30'):
        test[index]


def test_folders_without_normal_images_or_masks_are_refused(root):
    for path in (root / 'dots' / 'train' / 'good').iterdir():
        path.unlink()
    with pytest.raises(ValueError, match='no normal images in .*train/good'):
        MVTecDataset(data_root=str(root), split='train')
    (root / 'dots' / 'ground_truth' / 'blob' / '000_mask.png').unlink()
    with pytest.raises(FileNotFoundError, match='000.png.* has no mask'):
        MVTecDataset(data_root=str(root), split='test')
    lenient = MVTecDataset(data_root=str(root), split='test', allow_missing_masks=True)
    assert sum(d['mask_path'] is None for d in lenient.data_list) == 2 + 1
    with pytest.raises(FileNotFoundError, match='category folder'):
        MVTecDataset(data_root=str(root), categories=['nope'], split='test')

"""PatchCore on tiny synthetic textures (ResNet-18 layer2 + layer3, random weights, 96 px)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vmem.datasets.synthetic_anomaly import generate_category, normal_image, paste_defect
from vmem.models.anomaly import PatchCore
from vmem.models.anomaly.anomaly_scoring import anomaly_maps, gaussian_blur, nearest_neighbour_scores
from vmem.models.anomaly.support_augmentation import augment_support
from vmem.registry import MODELS
from vmem.utils.weights_loading import load_model_weights

ROOT = Path(__file__).resolve().parents[2]
SIZE = 96


def build(**overrides) -> PatchCore:
    torch.manual_seed(0)
    config = dict(type='PatchCore', backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(2, 3)),
                  target_dim=64, coreset_ratio=0.25)
    return MODELS.build({**config, **overrides}).eval()


def batch(images):
    return dict(inputs=[torch.from_numpy(image.transpose(2, 0, 1).copy()) for image in images])


def normals(count, seed=0):
    rng = np.random.default_rng(seed)
    return [normal_image('weave', rng, SIZE) for _ in range(count)]


def scores_of(model, images):
    data = model.data_preprocessor(batch(images), False)
    return model.score(data['inputs'])


@pytest.fixture(scope='module')
def fitted():
    model = build()
    for start in range(0, 12, 4):
        model.collect(batch(normals(12)[start:start + 4]))
    model.build_memory()
    return model


def test_bank_is_a_coreset_of_the_collected_patches(fitted):
    patches_per_image = (SIZE // 8) ** 2
    assert len(fitted.memory) == round(0.25 * 12 * patches_per_image) == fitted.memory.capacity
    assert fitted.normal_patch_distance > 0


def test_a_pasted_defect_scores_higher_than_normal_images_and_the_map_finds_it(fitted):
    rng = np.random.default_rng(5)
    defective, masks = zip(*(paste_defect(normal_image('weave', rng, SIZE), defect, rng)
                                  for defect in ('scratch', 'blob', 'scratch', 'blob')))
    normal_maps, normal_scores = scores_of(fitted, normals(4, seed=9))
    maps, defect_scores = scores_of(fitted, list(defective))
    assert defect_scores.min() > normal_scores.max()
    assert maps.shape == (4, SIZE, SIZE)
    for anomaly_map, mask in zip(maps, masks):
        inside = anomaly_map[torch.from_numpy(mask > 0)].mean()
        assert inside > anomaly_map[torch.from_numpy(mask == 0)].mean()


def test_checkpoint_round_trip_with_weights_only_into_a_model_of_another_bank_size(fitted, tmp_path):
    path = tmp_path / 'patchcore.pth'
    torch.save({'state_dict': fitted.state_dict(), 'meta': {}}, path)
    assert torch.load(path, weights_only=True)['state_dict']['memory.keys'].shape[0] == len(fitted.memory)
    fresh = build()
    assert not fresh.has_memory
    load_model_weights(fresh, str(path), strict=True)
    assert len(fresh.memory) == len(fitted.memory)
    images = normals(2, seed=3)
    torch.testing.assert_close(scores_of(fresh, images)[1], scores_of(fitted, images)[1])
    # torch's own loader (mmengine's resume path) resizes the bank too
    again = build()
    again.load_state_dict(fitted.state_dict())
    assert len(again.memory) == len(fitted.memory)


def test_a_bank_of_another_dimension_is_refused(fitted):
    other = build(target_dim=32)
    with pytest.raises(ValueError, match='64.*32|32.*64'):
        other.load_state_dict(fitted.state_dict())


def test_chunked_inference_gives_the_unchunked_scores(fitted):
    patches = fitted.features(fitted.data_preprocessor(batch(normals(2, seed=4)), False)['inputs'])
    whole = nearest_neighbour_scores(patches, fitted.memory, reweight_neighbours=9)
    chunked = nearest_neighbour_scores(patches, fitted.memory, reweight_neighbours=9, chunk_elements=1000)
    torch.testing.assert_close(chunked.patch_scores, whole.patch_scores)
    torch.testing.assert_close(chunked.image_scores, whole.image_scores)


def test_reweighting_scales_the_image_score_by_a_weight_in_0_1(fitted):
    patches = fitted.features(fitted.data_preprocessor(batch(normals(3, seed=4)), False)['inputs'])
    plain = nearest_neighbour_scores(patches, fitted.memory)
    reweighted = nearest_neighbour_scores(patches, fitted.memory, reweight_neighbours=9)
    assert torch.equal(plain.image_scores, plain.patch_scores.flatten(1).max(1).values)
    assert (reweighted.image_scores < plain.image_scores).all() and (reweighted.image_scores > 0).all()


def test_gaussian_blur_keeps_the_mass_of_a_constant_map_and_spreads_a_peak():
    flat = torch.full((1, 20, 20), 2.0)
    torch.testing.assert_close(gaussian_blur(flat, 4.0), flat)
    peak = torch.zeros(1, 41, 41)
    peak[0, 20, 20] = 1
    blurred = gaussian_blur(peak, 4.0)
    assert blurred[0, 20, 20] < 0.02 and abs(float(blurred.sum()) - 1) < 1e-4
    assert blurred[0, 20, 24] == pytest.approx(float(blurred[0, 20, 20]) * np.exp(-0.5), rel=1e-4)


def test_maps_upsample_bilinearly_or_by_nearest_neighbour(fitted):
    scores = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])
    nearest = anomaly_maps(scores, (4, 4), sigma=0, upsampling='nearest')
    torch.testing.assert_close(nearest, scores.repeat_interleave(2, 1).repeat_interleave(2, 2))
    bilinear = anomaly_maps(scores, (4, 4), sigma=0)
    assert bilinear[0, 0, 1] == pytest.approx(0.25)  # between the first two patch centres
    # the model's switch (anomalib's choice) changes only the map, not the image score
    images = fitted.data_preprocessor(batch(normals(2, seed=5)), False)['inputs']
    maps, image_scores = fitted.score(images)
    fitted.map_upsampling = 'nearest'
    try:
        nearest_maps, nearest_scores = fitted.score(images)
    finally:
        fitted.map_upsampling = 'bilinear'
    assert torch.equal(nearest_scores, image_scores) and not torch.equal(nearest_maps, maps)
    with pytest.raises(ValueError, match='map_upsampling'):
        build(map_upsampling='bicubic')


@pytest.mark.parametrize('ratio', [0, 1.5, -0.1, True])
def test_coreset_ratio_outside_0_1_is_refused(ratio):
    with pytest.raises(ValueError, match='coreset_ratio'):
        build(coreset_ratio=ratio)


def test_ratio_one_keeps_every_patch_and_few_shot_augmentation_adds_copies():
    model = build(coreset_ratio=1.0, support_augmentations=['hflip', 'rot90', 'shift'])
    model.collect(batch(normals(2)))
    assert len(model.build_memory()) == 2 * (1 + 1 + 1 + 4) * (SIZE // 8) ** 2
    images = torch.rand(2, 3, 16, 16)
    augmented = augment_support(images, ['hflip', 'vflip', 'rot180', 'shift'])
    assert augmented.shape == (2 * 8, 3, 16, 16)
    torch.testing.assert_close(augmented[2:4], images.flip(-1))
    with pytest.raises(ValueError, match='support_augmentations'):
        build(support_augmentations=['zoom'])


def test_errors_before_the_bank_exists_and_in_loss_mode():
    model = build()
    with pytest.raises(ValueError, match='empty memory bank'):
        model(torch.rand(1, 3, SIZE, SIZE), mode='tensor')
    with pytest.raises(ValueError, match='MemoryBankBuildLoop'):
        model(torch.rand(1, 3, SIZE, SIZE), mode='loss')
    with pytest.raises(ValueError, match='no patch features were collected'):
        model.build_memory()


def test_predict_fills_map_and_score_per_sample(fitted):
    data = fitted.data_preprocessor(batch(normals(2, seed=6)), False)
    samples = fitted.predict(data['inputs'])
    assert samples[0].pred_anomaly_map.shape == (SIZE, SIZE)
    assert isinstance(samples[1].pred_anomaly_score, float)


def test_train_and_test_tools_end_to_end_print_the_metrics(tmp_path):
    generate_category(tmp_path / 'data', 'weave', num_train=16, num_test_good=4, num_test_per_defect=2,
                      size=SIZE, seed=1)
    config = ROOT / 'configs/patchcore/patchcore_r18_synthetic_tiny.py'
    root = str(tmp_path / 'data')
    options = ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
               f'test_dataloader.dataset.data_root={root}', 'train_dataloader.num_workers=0',
               'test_dataloader.num_workers=0', 'model.target_dim=64']
    env = {'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'}
    work_dir = str(tmp_path / 'work')
    for command in (['tools/train.py', str(config), '--work-dir', work_dir, *options],
                    ['tools/test.py', str(config), str(tmp_path / 'work' / 'epoch_1.pth'), '--work-dir',
                     work_dir, *options]):
        result = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for name in ('image_AUROC', 'pixel_AUROC', 'PRO', 'image_F1max'):
        assert f'anomaly/weave/{name}' in result.stdout

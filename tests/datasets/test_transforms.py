import random

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from vmem.datasets.transforms import (ApplyToFrames, BaseTransform, LoadAnnotations, LoadFrame,
                                      PackDetInputs, PackVideoInputs, Pad, RandomChoiceResize,
                                      RandomFlip, Resize, decode_mask, rescaled_size)
from vmem.registry import TRANSFORMS
from vmem.structures import DetDataSample, TrackDataSample
from vmem.video import VideoWriter


def frame(height=50, width=100, boxes=((10, 5, 30, 25),), masks=False, seed=0):
    rng = np.random.default_rng(seed)
    results = {'img': rng.integers(0, 255, (height, width, 3), dtype=np.uint8),
               'img_shape': (height, width), 'ori_shape': (height, width),
               'gt_bboxes': np.array(boxes, np.float32).reshape(-1, 4),
               'gt_bboxes_labels': np.arange(len(boxes), dtype=np.int64),
               'gt_ignore_flags': np.zeros(len(boxes), bool),
               'gt_instances_ids': np.arange(len(boxes), dtype=np.int64) + 7}
    if masks:
        stack = np.zeros((len(boxes), height, width), np.uint8)
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            stack[i, y1:y2, x1:x2] = 1
        results['gt_masks'] = stack
    return results


def clip(num_refs=2, **kwargs):
    key = frame(seed=0, **kwargs)
    key['ref_frames'] = [frame(seed=i + 1, **kwargs) for i in range(num_refs)]
    return key


# ---------------------------------------------------------------- Resize / Flip / Pad
def test_rescaled_size_follows_long_short_edge_limits():
    assert rescaled_size(40, 100, (1000, 600), keep_ratio=True) == (400, 1000)
    assert rescaled_size(600, 800, (1000, 600), keep_ratio=True) == (600, 800)
    assert rescaled_size(30, 47, (20, 10), keep_ratio=True) == (10, 16)
    assert rescaled_size(30, 47, (20, 10), keep_ratio=False) == (10, 20)
    with pytest.raises(ValueError, match='scale'):
        rescaled_size(30, 47, (0, 10), keep_ratio=True)


def test_resize_scales_image_boxes_masks_and_records_scale_factor():
    out = Resize(scale=(1000, 600))(frame(height=40, width=100, masks=True))
    assert out['img'].shape == (400, 1000, 3) and out['img_shape'] == (400, 1000)
    assert out['ori_shape'] == (40, 100)
    np.testing.assert_allclose(out['gt_bboxes'], [[100, 50, 300, 250]])
    assert out['scale_factor'] == (10.0, 10.0)
    assert out['gt_masks'].shape == (1, 400, 1000) and out['gt_masks'][0, 50:250, 100:300].all()
    assert out['gt_masks'].sum() == 200 * 200


def test_resize_with_uneven_factors_and_clipping():
    results = frame(height=30, width=47, boxes=((0, 0, 47, 30), (40, 20, 60, 40)))
    out = Resize(scale=(20, 10))(results)
    w_scale, h_scale = 16 / 47, 10 / 30
    assert out['scale_factor'] == pytest.approx((w_scale, h_scale))
    np.testing.assert_allclose(out['gt_bboxes'][0], [0, 0, 16, 10], rtol=1e-6)
    # the second box reached outside the image and is clipped to it
    np.testing.assert_allclose(out['gt_bboxes'][1], [40 * w_scale, 20 * h_scale, 16, 10], rtol=1e-6)
    unclipped = Resize(scale=(20, 10), clip_object_border=False)(
        frame(height=30, width=47, boxes=((40, 20, 60, 40),)))
    np.testing.assert_allclose(unclipped['gt_bboxes'][0], [40 * w_scale, 20 * h_scale, 60 * w_scale, 40 * h_scale],
                               rtol=1e-6)


def test_resize_twice_accumulates_scale_factor():
    out = Resize(scale=(50, 25), keep_ratio=False)(Resize(scale=(200, 100), keep_ratio=False)(frame()))
    assert out['scale_factor'] == pytest.approx((0.5, 0.5))
    np.testing.assert_allclose(out['gt_bboxes'], [[5, 2.5, 15, 12.5]])


def test_flip_maps_boxes_to_mirrored_coordinates_and_back():
    original = frame(width=100, masks=True)
    image_before = original['img'].copy()
    out = RandomFlip(prob=1.0)(dict(original))
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    np.testing.assert_allclose(out['gt_bboxes'], [[70, 5, 90, 25]])
    np.testing.assert_array_equal(out['img'], image_before[:, ::-1])
    assert out['gt_masks'][0, 5:25, 70:90].all() and out['gt_masks'].sum() == 400
    twice = RandomFlip(prob=1.0)(dict(out))
    np.testing.assert_allclose(twice['gt_bboxes'], [[10, 5, 30, 25]])
    np.testing.assert_array_equal(twice['img'], image_before)


def test_vertical_flip_and_no_flip():
    out = RandomFlip(prob=1.0, direction='vertical')(frame(height=50))
    np.testing.assert_allclose(out['gt_bboxes'], [[10, 25, 30, 45]])
    kept = RandomFlip(prob=0.0)(frame())
    assert kept['flip'] is False and kept['flip_direction'] is None
    np.testing.assert_allclose(kept['gt_bboxes'], [[10, 5, 30, 25]])
    with pytest.raises(ValueError, match='prob'):
        RandomFlip(prob=1.5)


def test_resize_then_flip_round_trip_against_hand_computed_boxes():
    results = frame(height=50, width=100)
    out = RandomFlip(prob=1.0)(Resize(scale=(200, 100))(results))
    # factor 2: [10, 5, 30, 25] -> [20, 10, 60, 50]; flip in width 200 -> [140, 10, 180, 50]
    np.testing.assert_allclose(out['gt_bboxes'], [[140, 10, 180, 50]])
    width = out['img_shape'][1]
    unflipped = out['gt_bboxes'][:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [width, 0, width, 0]
    w_scale, h_scale = out['scale_factor']
    np.testing.assert_allclose(unflipped / [w_scale, h_scale, w_scale, h_scale], [[10, 5, 30, 25]])


def test_pad_to_divisor_and_to_size():
    out = Pad(size_divisor=32)(frame(height=100, width=200, masks=True))
    assert out['img'].shape == (128, 224, 3) and out['pad_shape'] == (128, 224)
    assert out['img_shape'] == (100, 200)
    assert out['gt_masks'].shape == (1, 128, 224) and out['img'][100:].max() == 0
    fixed = Pad(size=(120, 60), pad_val=9)(frame(height=50, width=100))
    assert fixed['img'].shape == (60, 120, 3) and (fixed['img'][:, 100:] == 9).all()
    with pytest.raises(ValueError, match='smaller'):
        Pad(size=(50, 50))(frame(height=50, width=100))
    with pytest.raises(ValueError, match='exactly one'):
        Pad()


# ---------------------------------------------------------------- loading
def test_load_frame_from_file_sets_shapes_and_rgb(tmp_path):
    rgb = np.zeros((12, 20, 3), np.uint8)
    rgb[..., 0] = 200  # red in RGB
    path = tmp_path / 'red.png'
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out = LoadFrame()({'img_path': str(path), 'height': 12, 'width': 20})
    np.testing.assert_array_equal(out['img'], rgb)
    assert out['img_shape'] == (12, 20) and out['ori_shape'] == (12, 20)
    with pytest.raises(ValueError, match='annotation'):
        LoadFrame()({'img_path': str(path), 'height': 13, 'width': 20})


def test_load_frame_missing_file_names_it(tmp_path):
    missing = tmp_path / 'nope.jpg'
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        LoadFrame()({'img_path': str(missing)})
    with pytest.raises(ValueError, match='img_path'):
        LoadFrame()({'frame_id': 3})


def test_load_frame_keeps_in_memory_frame_and_expands_gray():
    gray = np.full((6, 8), 5, np.uint8)
    out = LoadFrame()({'img': gray})
    assert out['img'].shape == (6, 8, 3) and out['ori_shape'] == (6, 8)
    with pytest.raises(ValueError, match='uint8'):
        LoadFrame()({'img': np.zeros((6, 8, 3), np.float32)})


def test_load_frame_from_video_file(tmp_path):
    path = str(tmp_path / 'clip.mp4')
    with VideoWriter(path, fps=5, frame_size=(32, 24)) as writer:
        for value in (0, 120, 240):
            writer.write(np.full((24, 32, 3), value, np.uint8))
    loader = LoadFrame(max_open_videos=1)
    out = loader({'video_path': path, 'frame_id': 1})
    assert out['img'].shape == (24, 32, 3) and abs(float(out['img'].mean()) - 120) < 10
    assert abs(float(loader({'video_path': path, 'frame_id': 2})['img'].mean()) - 240) < 10
    assert abs(float(loader({'video_path': path, 'frame_id': 0})['img'].mean())) < 10
    assert len(loader._open_videos) == 1
    with pytest.raises(ValueError, match='frame_id'):
        loader({'video_path': path})


def test_load_annotations_arrays_and_masks():
    rle = mask_utils.encode(np.asfortranarray(np.pad(np.ones((2, 3), np.uint8), ((1, 3), (2, 1)))))
    rle['counts'] = rle['counts'].decode()
    instances = [
        {'bbox': [2, 1, 5, 3], 'bbox_label': 1, 'ignore_flag': 0, 'instance_id': 4, 'mask': rle},
        {'bbox': [0, 0, 2, 2], 'bbox_label': 0, 'ignore_flag': 1,
         'mask': [[0, 0, 2, 0, 2, 2, 0, 2]]},
        {'bbox': [0, 0, 1, 1], 'bbox_label': 0, 'ignore_flag': 0},
    ]
    out = LoadAnnotations(with_mask=True)({'instances': instances, 'height': 6, 'width': 6})
    assert out['gt_bboxes'].dtype == np.float32 and out['gt_bboxes'].shape == (3, 4)
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [1, 0, 0])
    np.testing.assert_array_equal(out['gt_ignore_flags'], [False, True, False])
    np.testing.assert_array_equal(out['gt_instances_ids'], [4, -1, -1])
    assert out['gt_masks'].shape == (3, 6, 6)
    assert out['gt_masks'][0, 1:3, 2:5].all() and out['gt_masks'][0].sum() == 6
    assert out['gt_masks'][1].sum() > 0 and out['gt_masks'][2].sum() == 0
    empty = LoadAnnotations()({})
    assert empty['gt_bboxes'].shape == (0, 4) and empty['gt_bboxes_labels'].shape == (0,)
    with pytest.raises(ValueError, match='frame size'):
        LoadAnnotations(with_mask=True)({'instances': instances})


def test_decode_mask_uncompressed_rle_and_bad_type():
    mask = decode_mask({'size': [3, 2], 'counts': [1, 2, 3]}, 3, 2)
    assert mask.sum() == 2
    with pytest.raises(TypeError):
        decode_mask(42, 3, 2)


# ---------------------------------------------------------------- packing
def test_pack_det_inputs_splits_ignored_and_fills_default_meta():
    results = frame(boxes=((10, 5, 30, 25), (0, 0, 4, 4)), masks=True)
    results['gt_ignore_flags'] = np.array([False, True])
    results.update(img_id=3, video_id=1, frame_id=2, video_length=10, img_path='a.jpg')
    packed = PackDetInputs()(results)
    assert packed['inputs'].shape == (3, 50, 100) and packed['inputs'].dtype == torch.uint8
    assert torch.equal(packed['inputs'].permute(1, 2, 0), torch.from_numpy(results['img']))
    sample = packed['data_samples']
    assert isinstance(sample, DetDataSample)
    assert sample.gt_instances.bboxes.tolist() == [[10, 5, 30, 25]]
    assert sample.gt_instances.labels.dtype == torch.int64 and sample.gt_instances.instance_ids.tolist() == [7]
    assert sample.gt_instances.masks.dtype == torch.bool and sample.gt_instances.masks.shape == (1, 50, 100)
    assert sample.ignored_instances.bboxes.tolist() == [[0, 0, 4, 4]]
    meta = sample.metainfo
    assert meta['img_id'] == 3 and meta['frame_id'] == 2 and meta['video_length'] == 10
    assert meta['scale_factor'] == (1.0, 1.0) and meta['flip'] is False and meta['flip_direction'] is None
    assert meta['pad_shape'] == (50, 100) and meta['img_shape'] == (50, 100)
    with pytest.raises(ValueError, match='LoadFrame'):
        PackDetInputs()({})


def test_pack_det_inputs_without_annotations_gives_empty_instances():
    packed = PackDetInputs(meta_keys=('img_shape',))({'img': np.zeros((4, 5, 3), np.uint8)})
    assert len(packed['data_samples'].gt_instances) == 0
    assert set(packed['data_samples'].metainfo) == {'img_shape'}


def test_pack_video_inputs_stacks_key_then_refs():
    results = clip(num_refs=2)
    results['frame_id'] = 5
    for index, ref in enumerate(results['ref_frames']):
        ref['frame_id'] = index * 10
    packed = PackVideoInputs()(results)
    assert packed['inputs'].shape == (3, 3, 50, 100)
    sample = packed['data_samples']
    assert isinstance(sample, TrackDataSample) and len(sample) == 3
    assert sample.key_frames_inds == [0] and sample.ref_frames_inds == [1, 2]
    assert [f.frame_id for f in sample.video_data_samples] == [5, 0, 10]
    assert torch.equal(packed['inputs'][1].permute(1, 2, 0), torch.from_numpy(results['ref_frames'][0]['img']))
    single = PackVideoInputs()(frame())
    assert single['inputs'].shape == (1, 3, 50, 100) and single['data_samples'].ref_frames_inds == []


def test_pack_video_inputs_rejects_unloaded_refs_and_mixed_shapes():
    results = clip(num_refs=1)
    results['ref_frames'][0].pop('img')
    with pytest.raises(ValueError, match='ApplyToFrames'):
        PackVideoInputs()(results)
    results = clip(num_refs=1)
    results['ref_frames'][0]['img'] = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match='share a shape'):
        PackVideoInputs()(results)


# ---------------------------------------------------------------- broadcasting
def flips_of(results):
    return [results['flip']] + [ref['flip'] for ref in results['ref_frames']]


def test_apply_to_frames_shares_flip_and_keeps_boxes_consistent():
    broadcaster = ApplyToFrames(transforms=[dict(type='Resize', scale=(200, 100)),
                                            dict(type='RandomFlip', prob=0.5)])
    seen = set()
    for seed in range(12):
        random.seed(seed)
        out = broadcaster(clip(num_refs=3))
        flips = flips_of(out)
        assert len(set(flips)) == 1, flips
        seen.add(flips[0])
        expected = [[140, 10, 180, 50]] if flips[0] else [[20, 10, 60, 50]]
        for item in [out, *out['ref_frames']]:
            np.testing.assert_allclose(item['gt_bboxes'], expected)
            assert item['img'].shape == (100, 200, 3)
    assert seen == {True, False}


def test_apply_to_frames_without_sharing_draws_per_frame():
    broadcaster = ApplyToFrames(transforms=[RandomFlip(prob=0.5)], share_random_params=False)
    random.seed(0)
    assert any(len(set(flips_of(broadcaster(clip(num_refs=3))))) > 1 for _ in range(20))


def test_apply_to_frames_shares_random_scale():
    broadcaster = ApplyToFrames(transforms=[RandomChoiceResize(scales=[(200, 100), (50, 25)])])
    shapes = set()
    for seed in range(10):
        random.seed(seed)
        out = broadcaster(clip(num_refs=2))
        frame_shapes = {out['img_shape']} | {ref['img_shape'] for ref in out['ref_frames']}
        assert len(frame_shapes) == 1
        shapes |= frame_shapes
    assert shapes == {(100, 200), (25, 50)}


def test_apply_to_frames_does_not_double_flip_a_reused_frame_dict():
    key = frame()
    shared = frame(seed=5)
    key['ref_frames'] = [shared, shared]
    out = ApplyToFrames(transforms=[RandomFlip(prob=1.0)])(key)
    for ref in out['ref_frames']:
        np.testing.assert_allclose(ref['gt_bboxes'], [[70, 5, 90, 25]])


class DropEverything(BaseTransform):
    def transform(self, results):
        return None


def test_apply_to_frames_drops_clip_when_a_frame_is_dropped_and_handles_single_frames():
    assert ApplyToFrames(transforms=[DropEverything()])(clip()) is None
    single = ApplyToFrames(transforms=[RandomFlip(prob=1.0)])(frame())
    assert 'ref_frames' not in single and single['flip'] is True
    with pytest.raises(TypeError):
        ApplyToFrames(transforms=dict(type='RandomFlip'))
    with pytest.raises(NotImplementedError):
        BaseTransform()({})


@pytest.mark.parametrize('config', [
    dict(type='LoadFrame'), dict(type='LoadAnnotations', with_mask=True), dict(type='Resize', scale=(64, 32)),
    dict(type='RandomChoiceResize', scales=[(64, 32)]), dict(type='RandomFlip', prob=1.0),
    dict(type='Pad', size_divisor=16), dict(type='PackDetInputs'), dict(type='PackVideoInputs'),
    dict(type='ApplyToFrames', transforms=[dict(type='RandomFlip', prob=1.0)]),
])
def test_every_transform_builds_from_registry_and_runs(config):
    transform = TRANSFORMS.build(config)
    results = frame(masks=True)
    results['instances'] = [{'bbox': [1, 1, 4, 4], 'bbox_label': 0, 'ignore_flag': 0}]
    out = transform(results)
    assert out is not None and ('inputs' in out or 'img' in out)
    assert repr(transform).startswith(config['type'])


def test_normalize_per_channel_and_packs_as_float():
    from vmem.datasets.transforms import Normalize, PackDetInputs
    image = np.zeros((4, 6, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 30
    results = Normalize(mean=(10, 10, 10), std=(1, 2, 5))(dict(img=image))
    np.testing.assert_allclose(results['img'][0, 0], [0.0, 5.0, 4.0])
    assert results['img'].dtype == np.float32 and results['img_norm_cfg']['std'] == (1.0, 2.0, 5.0)
    results.update(img_shape=(4, 6), ori_shape=(4, 6))
    packed = PackDetInputs()(results)
    assert packed['inputs'].dtype == torch.float32 and packed['inputs'].shape == (3, 4, 6)
    with pytest.raises(ValueError, match='std must be positive'):
        Normalize(std=(1, 0, 1))
    with pytest.raises(ValueError, match='LoadFrame'):
        Normalize()(dict())


def test_resize_as_torchvision_detection_floors_sizes_and_keeps_float():
    # 480 x 640 to short side 800: the long side is 1066.67, which torchvision floors
    image = frame(height=480, width=640)
    out = Resize(scale=(1333, 800), rounding='floor', backend='torch')(image)
    factor = min(1333 / 640, 800 / 480)
    expected = torch.nn.functional.interpolate(torch.zeros(1, 3, 480, 640), scale_factor=factor, mode='bilinear',
                                               recompute_scale_factor=True).shape[-2:]
    assert out['img'].dtype == np.float32 and out['img_shape'] == tuple(expected) == (800, 1066)
    rounded = Resize(scale=(1333, 800))(frame(height=480, width=640))
    assert rounded['img'].dtype == np.uint8 and rounded['img_shape'] == (800, 1067)
    with pytest.raises(ValueError, match='rounding must be one of'):
        Resize(scale=(10, 10), rounding='ceil')
    with pytest.raises(ValueError, match='backend must be one of'):
        Resize(scale=(10, 10), backend='pil')

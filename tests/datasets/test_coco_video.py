import json
import random
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import ConcatDataset, DefaultSampler

from vmem.datasets.coco_video import CocoVideoDataset
from vmem.datasets.ref_frame_sampler import RefFrameSampler
from vmem.registry import DATASETS
from vmem.structures import TrackDataSample

WIDTH, HEIGHT = 32, 24
CLASSES = ('cat', 'dog')


def write_frame(path, seed):
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8))


def cocovid(num_videos=2, frames_per_video=10, num_det=2):
    """2 videos x 10 frames (one moving 'cat' each, instance ids 1 and 2) + 2 DET images."""
    content = {'categories': [{'id': 1, 'name': 'cat'}, {'id': 2, 'name': 'dog'}],
               'videos': [], 'images': [], 'annotations': []}
    for v in range(num_videos):
        content['videos'].append({'id': v + 1, 'name': f'video{v}', 'width': WIDTH, 'height': HEIGHT,
                                  'camera': f'cam{v}', 'fps': 5.0})
        for f in range(frames_per_video):
            image_id = len(content['images']) + 1
            content['images'].append({'id': image_id, 'video_id': v + 1, 'frame_id': f,
                                      'file_name': f'video{v}/{f:06d}.jpg', 'width': WIDTH, 'height': HEIGHT,
                                      'is_vid_train_frame': f in (2, 7)})
            content['annotations'].append({'id': len(content['annotations']) + 1, 'image_id': image_id,
                                           'video_id': v + 1, 'category_id': 1, 'instance_id': v + 1,
                                           'bbox': [f, 2, 8, 6], 'area': 48, 'iscrowd': 0})
    for d in range(num_det):
        image_id = len(content['images']) + 1
        content['images'].append({'id': image_id, 'file_name': f'det/{d}.jpg', 'width': WIDTH,
                                  'height': HEIGHT, 'is_vid_train_frame': d == 0})
        content['annotations'].append({'id': len(content['annotations']) + 1, 'image_id': image_id,
                                       'category_id': 2, 'bbox': [4, 4, 10, 10], 'area': 100, 'iscrowd': 0})
    return content


def write_dataset(root, content, name='ann.json'):
    for image in content['images']:
        path = root / 'images' / image['file_name']
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            write_frame(path, image['id'])
    ann_file = root / name
    ann_file.write_text(json.dumps(content))
    return str(ann_file)


@pytest.fixture
def ann_file(tmp_path):
    return write_dataset(tmp_path, cocovid())


def build(ann_file, **kwargs):
    kwargs.setdefault('data_prefix', dict(img_path=str(ann_file).rsplit('/', 1)[0] + '/images'))
    return CocoVideoDataset(ann_file=ann_file, **kwargs)


def train_pipeline(flip_prob=0.5, with_mask=False):
    return [dict(type='ApplyToFrames', transforms=[
                dict(type='LoadFrame'), dict(type='LoadAnnotations', with_mask=with_mask),
                dict(type='Resize', scale=(64, 48), keep_ratio=True),
                dict(type='RandomFlip', prob=flip_prob)]),
            dict(type='PackVideoInputs')]


# ---------------------------------------------------------------- loading
def test_loads_frames_in_video_order_with_contract_keys(ann_file):
    dataset = build(ann_file)
    assert len(dataset) == 22 and dataset.metainfo['classes'] == CLASSES
    info = dataset.get_data_info(3)
    assert (info['video_id'], info['frame_id'], info['video_length']) == (1, 3, 10)
    assert info['img_path'].endswith('images/video0/000003.jpg')
    assert info['camera'] == 'cam0' and info['video_name'] == 'video0' and info['is_video_data']
    assert info['instances'] == [{'bbox': [3.0, 2.0, 11.0, 8.0], 'bbox_label': 0, 'ignore_flag': 0,
                                  'instance_id': 1}]
    assert 'ref_frames' not in info
    det = dataset.get_data_info(21)
    assert det['video_id'] is None and det['frame_id'] == 0 and det['video_length'] == 1
    assert not det['is_video_data'] and det['instances'][0]['bbox_label'] == 1
    assert dataset.get_data_info(-1)['img_id'] == det['img_id']


def test_classes_from_metainfo_select_and_order_labels(ann_file):
    dataset = build(ann_file, metainfo=dict(classes=['dog']))
    assert dataset.metainfo['classes'] == ('dog',)
    labels = [inst['bbox_label'] for i in range(len(dataset)) for inst in dataset.get_data_info(i)['instances']]
    assert labels == [0, 0]  # the cats are dropped, the two DET dogs kept
    assert dataset.annotation_issues['dropped_other_classes'] == 20
    with pytest.warns(UserWarning, match='bird'):
        build(ann_file, metainfo=dict(classes=('cat', 'bird')))


def test_lazy_init_touches_no_file(tmp_path):
    dataset = CocoVideoDataset(ann_file=str(tmp_path / 'missing.json'), lazy_init=True)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        len(dataset)


def test_key_img_sampler_interval_and_vid_train_frames(ann_file):
    by_interval = build(ann_file, key_img_sampler=dict(interval=5))
    assert [by_interval.get_data_info(i)['frame_id'] for i in range(len(by_interval))] == [0, 5, 0, 5, 0, 0]
    subset = build(ann_file, key_img_sampler=dict(vid_train_frames_only=True),
                   ref_img_sampler=dict(num_ref_imgs=2, frame_range=9, method='uniform'))
    assert [subset.get_data_info(i)['img_id'] for i in range(len(subset))] == [3, 8, 13, 18, 21]
    # references still come from every frame of the video
    refs = {ref['frame_id'] for _ in range(30) for ref in subset.get_data_info(0)['ref_frames']}
    assert len(refs - {2, 7}) > 3
    assert len(build(ann_file, key_img_sampler=dict(vid_train_frames_only=True), test_mode=True)) == 22
    with pytest.raises(ValueError, match='interval'):
        build(ann_file, key_img_sampler=dict(stride=2))


def test_vid_train_frames_only_needs_the_flag(tmp_path):
    content = cocovid()
    for image in content['images']:
        image.pop('is_vid_train_frame')
    with pytest.raises(ValueError, match='is_vid_train_frame'):
        build(write_dataset(tmp_path, content), key_img_sampler=dict(vid_train_frames_only=True))


def test_filter_cfg_drops_empty_and_small_key_frames_only_in_training(tmp_path):
    content = cocovid()
    content['annotations'] = [a for a in content['annotations'] if a['image_id'] != 4]
    content['annotations'][0]['iscrowd'] = 1  # image 1 keeps only an ignored box
    ann_file = write_dataset(tmp_path, content)
    filtered = build(ann_file, filter_cfg=dict(filter_empty_gt=True),
                     ref_img_sampler=dict(num_ref_imgs=4, frame_range=3, filter_key_img=True))
    kept = {filtered.get_data_info(i)['img_id'] for i in range(len(filtered))}
    assert len(filtered) == 20 and not kept & {1, 4}
    # a filtered frame may still serve as a reference frame
    refs = {ref['img_id'] for _ in range(40) for ref in filtered.get_data_info(0)['ref_frames']}
    assert 1 in refs
    assert len(build(ann_file, filter_cfg=dict(filter_empty_gt=True), test_mode=True)) == 22
    assert len(build(ann_file, filter_cfg=dict(min_size=WIDTH))) == 0
    with pytest.raises(ValueError, match='filter_cfg'):
        build(ann_file, filter_cfg=dict(filter_empty=True))


def test_indices_and_subsets_keep_reference_frames(ann_file):
    dataset = build(ann_file, indices=3, ref_img_sampler=dict(num_ref_imgs=2, frame_range=4))
    assert len(dataset) == 3 and dataset.get_data_info(0)['ref_frames']
    subset = build(ann_file).get_subset([20, 0])
    assert [subset.get_data_info(i)['img_id'] for i in range(2)] == [21, 1]


# ---------------------------------------------------------------- reference frame sampling
def ref_positions(info):
    return [ref['frame_id'] for ref in info['ref_frames']]


def test_uniform_refs_within_range_distinct_and_not_the_key(ann_file):
    dataset = build(ann_file, ref_img_sampler=dict(num_ref_imgs=2, frame_range=2, method='uniform'))
    random.seed(0)
    for idx in range(20):
        for _ in range(5):
            info = dataset.get_data_info(idx)
            refs = ref_positions(info)
            assert len(refs) == 2 and len(set(refs)) == 2 and info['frame_id'] not in refs
            assert all(abs(r - info['frame_id']) <= 2 for r in refs) and refs == sorted(refs)
            assert {ref['video_id'] for ref in info['ref_frames']} == {info['video_id']}


def test_uniform_with_asymmetric_range_and_key_allowed(ann_file):
    dataset = build(ann_file, ref_img_sampler=dict(num_ref_imgs=3, frame_range=[-3, 0], filter_key_img=False))
    random.seed(1)
    seen = set()
    for _ in range(30):
        refs = ref_positions(dataset.get_data_info(5))
        assert all(2 <= r <= 5 for r in refs) and len(set(refs)) == 3
        seen |= set(refs)
    assert seen == {2, 3, 4, 5}


def test_bilateral_uniform_takes_half_before_half_after(ann_file):
    dataset = build(ann_file, ref_img_sampler=dict(num_ref_imgs=4, frame_range=3, method='bilateral_uniform'))
    random.seed(2)
    for _ in range(10):
        refs = ref_positions(dataset.get_data_info(5))
        assert len(refs) == 4 and all(2 <= r < 5 for r in refs[:2]) and all(5 < r <= 8 for r in refs[2:])
        assert len(set(refs)) == 4
    # at the first frame the empty left side falls back to the key frame itself
    refs = ref_positions(dataset.get_data_info(0))
    assert refs[:2] == [0, 0] and all(1 <= r <= 3 for r in refs[2:])
    with pytest.raises(ValueError, match='even'):
        build(ann_file, ref_img_sampler=dict(num_ref_imgs=3, frame_range=3, method='bilateral_uniform'))


def test_test_with_adaptive_stride_is_deterministic_over_the_whole_video(ann_file):
    dataset = build(ann_file, test_mode=True,
                    ref_img_sampler=dict(num_ref_imgs=3, frame_range=9, method='test_with_adaptive_stride'))
    first = dataset.get_data_info(10)
    assert ref_positions(first) == [0, 4, 9] == ref_positions(dataset.get_data_info(10))
    assert all(ref['video_id'] == 2 for ref in first['ref_frames'])
    assert ref_positions(dataset.get_data_info(13)) == []


def test_test_with_fix_stride_sliding_window(ann_file):
    dataset = build(ann_file, test_mode=True, ref_img_sampler=dict(
        num_ref_imgs=3, frame_range=[-2, 1], stride=3, method='test_with_fix_stride'))
    first = dataset.get_data_info(0)
    assert ref_positions(first) == [0, 0, 0, 3]
    assert first['num_left_ref_imgs'] == 2 and first['frame_stride'] == 3
    assert ref_positions(dataset.get_data_info(3)) == [6]
    assert ref_positions(dataset.get_data_info(9)) == [9]
    assert ref_positions(dataset.get_data_info(4)) == []


@pytest.mark.parametrize('method', ['uniform', 'bilateral_uniform', 'test_with_adaptive_stride',
                                    'test_with_fix_stride'])
def test_det_images_use_themselves_as_references(ann_file, method):
    dataset = build(ann_file, ref_img_sampler=dict(num_ref_imgs=2, frame_range=[-1, 1], method=method))
    info = dataset.get_data_info(20)
    assert info['ref_frames'] and all(ref['img_id'] == info['img_id'] for ref in info['ref_frames'])
    info['ref_frames'][0]['instances'].clear()  # copies, not aliases of the key frame
    assert info['instances']


def test_load_as_video_false_treats_frames_as_images(ann_file):
    dataset = build(ann_file, load_as_video=False, ref_img_sampler=dict(num_ref_imgs=2, frame_range=3))
    info = dataset.get_data_info(4)
    assert not info['is_video_data'] and ref_positions(info) == [4, 4]
    assert dataset.video_groups()[:3] == [[0], [1], [2]]


def test_ref_frame_sampler_validates_arguments_and_fills_short_windows():
    with pytest.raises(ValueError, match='method'):
        RefFrameSampler(method='random')
    with pytest.raises(ValueError, match='lo <= 0 <= hi'):
        RefFrameSampler(frame_range=[1, 2])
    with pytest.raises(TypeError, match='frame_range'):
        RefFrameSampler(frame_range=2.5)
    with pytest.raises(ValueError, match='num_ref_imgs'):
        RefFrameSampler(num_ref_imgs=0)
    with pytest.raises(ValueError, match='outside'):
        RefFrameSampler().sample(3, 3)
    sampler = RefFrameSampler(num_ref_imgs=4, frame_range=1)
    refs = sampler.sample(0, 3, rng=random.Random(0))
    assert len(refs) == 4 and set(refs) == {1}
    assert RefFrameSampler(num_ref_imgs=1, method='test_with_adaptive_stride').sample(0, 5) == [0]


# ---------------------------------------------------------------- pipeline
def test_pipeline_packs_key_and_refs_with_one_shared_flip(ann_file):
    dataset = build(ann_file, pipeline=train_pipeline(),
                    ref_img_sampler=dict(num_ref_imgs=2, frame_range=2, method='bilateral_uniform'))
    random.seed(3)
    flips = set()
    for _ in range(8):
        packed = dataset[4]
        inputs, sample = packed['inputs'], packed['data_samples']
        assert inputs.shape == (3, 3, 48, 64) and inputs.dtype == torch.uint8
        assert isinstance(sample, TrackDataSample) and sample.ref_frames_inds == [1, 2]
        frame_flips = {frame.flip for frame in sample.video_data_samples}
        assert len(frame_flips) == 1
        flip = frame_flips.pop()
        flips.add(flip)
        for frame in sample.video_data_samples:
            f = frame.frame_id
            x1, x2 = f * 2.0, (f + 8) * 2.0  # bbox [f, 2, 8, 6] scaled by 2
            expected = [64 - x2, 4, 64 - x1, 16] if flip else [x1, 4, x2, 16]
            assert frame.gt_instances.bboxes.tolist() == [expected]
            assert frame.scale_factor == (2.0, 2.0) and frame.ori_shape == (HEIGHT, WIDTH)
            assert frame.video_id == 1 and frame.video_length == 10
        assert sample.key_frames[0].frame_id == 4
    assert flips == {True, False}


def test_single_frame_pipeline_packs_det_data_sample(ann_file):
    dataset = build(ann_file, test_mode=True, pipeline=[
        dict(type='LoadFrame'), dict(type='LoadAnnotations'),
        dict(type='Resize', scale=(64, 48)), dict(type='PackDetInputs')])
    packed = dataset[21]
    assert packed['inputs'].shape == (3, 48, 64)
    meta = packed['data_samples'].metainfo
    assert meta['img_id'] == 22 and meta['video_id'] is None and meta['img_shape'] == (48, 64)
    assert packed['data_samples'].to_dict()['img_id'] == 22


def test_masks_follow_boxes_through_the_pipeline(tmp_path):
    import pycocotools.mask as mask_utils
    content = cocovid(num_videos=1, frames_per_video=3, num_det=0)
    for ann in content['annotations']:
        x, y, w, h = ann['bbox']
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        mask[y:y + h, x:x + w] = 1
        rle = mask_utils.encode(np.asfortranarray(mask))
        ann['segmentation'] = {'size': rle['size'], 'counts': rle['counts'].decode()}
    dataset = build(write_dataset(tmp_path, content), pipeline=train_pipeline(flip_prob=1.0, with_mask=True),
                    ref_img_sampler=dict(num_ref_imgs=1, frame_range=1))
    for frame in dataset[1]['data_samples']:
        x1, y1, x2, y2 = (int(v) for v in frame.gt_instances.bboxes[0].tolist())
        masks = frame.gt_instances.masks
        assert masks.shape == (1, 48, 64) and masks[0, y1:y2, x1:x2].all()
        assert int(masks.sum()) == (x2 - x1) * (y2 - y1)


def test_missing_image_file_raises_naming_it(tmp_path):
    content = cocovid(num_videos=1, frames_per_video=2, num_det=0)
    ann_file = write_dataset(tmp_path, content)
    (tmp_path / 'images' / 'video0' / '000001.jpg').unlink()
    dataset = build(ann_file, pipeline=[dict(type='LoadFrame'), dict(type='PackDetInputs')])
    dataset[0]
    with pytest.raises(FileNotFoundError, match='000001.jpg'):
        dataset[1]


# ---------------------------------------------------------------- bad annotation files
def write_json(tmp_path, content):
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(content))
    return str(path)


@pytest.mark.parametrize('break_it,message', [
    (lambda c: c.pop('annotations'), 'missing list "annotations"'),
    (lambda c: c['images'][3].pop('file_name'), r"image id 4 lacks required key\(s\) \['file_name'\]"),
    (lambda c: c['annotations'][5].pop('bbox'), r"annotation id 6 lacks required key\(s\) \['bbox'\]"),
    (lambda c: c['annotations'][5].update(category_id=9), 'annotation id 6 has category_id 9'),
    (lambda c: c['annotations'][5].update(image_id=999), 'image id 999'),
    (lambda c: c['annotations'][5].update(bbox=[1, 2, 3]), r'bbox \[1, 2, 3\]'),
    (lambda c: c['annotations'][5].update(bbox=[1, 2, 'x', 4]), r"annotation id 6 has bbox \[1, 2, 'x', 4\]"),
    (lambda c: c['images'][3].pop('frame_id'), 'image id 4 has a video_id but no frame_id'),
    (lambda c: c['images'][3].update(video_id=7), 'image id 4 has video_id 7'),
    (lambda c: c['images'][3].update(frame_id=2), 'both frame 2 of video 1'),
    (lambda c: c['images'].append(dict(c['images'][0])), 'image id 1 appears twice'),
    (lambda c: c['categories'][0].pop('name'), r'category id 1 lacks'),
])
def test_bad_records_raise_value_error_naming_file_and_record(tmp_path, break_it, message):
    content = cocovid()
    break_it(content)
    path = write_json(tmp_path, content)
    with pytest.raises(ValueError, match=message) as error:
        CocoVideoDataset(ann_file=path)
    assert 'bad.json' in str(error.value)


def test_invalid_json_and_empty_file(tmp_path):
    path = tmp_path / 'bad.json'
    path.write_text('{not json')
    with pytest.raises(ValueError, match='not valid JSON'):
        CocoVideoDataset(ann_file=str(path))
    empty = write_json(tmp_path, {'images': [], 'annotations': [], 'categories': []})
    with pytest.raises(ValueError, match='no images'):
        CocoVideoDataset(ann_file=empty)


def test_boxes_outside_are_clipped_and_empty_ones_skipped_with_one_warning(tmp_path):
    content = cocovid()
    content['annotations'][0]['bbox'] = [-4, -2, 10, 6]     # clipped to [0, 0, 6, 4]
    content['annotations'][1]['bbox'] = [28, 20, 10, 10]    # clipped to [28, 20, 32, 24]
    content['annotations'][2]['bbox'] = [5, 5, 0, 4]        # zero width: skipped
    content['annotations'][3]['bbox'] = [40, 5, 4, 4]       # entirely outside: skipped
    with pytest.warns(UserWarning, match=r'clipped 2 box\(es\).*annotation id 1.*skipped 2 box\(es\)') as record:
        dataset = CocoVideoDataset(ann_file=write_json(tmp_path, content))
    assert len(record) == 1
    assert dataset.annotation_issues['clipped_boxes'] == 2
    assert dataset.annotation_issues['skipped_empty_boxes'] == 2
    assert dataset.get_data_info(0)['instances'][0]['bbox'] == [0.0, 0.0, 6.0, 4.0]
    assert dataset.get_data_info(1)['instances'][0]['bbox'] == [28.0, 20.0, 32.0, 24.0]
    assert dataset.get_data_info(2)['instances'] == [] and dataset.get_data_info(3)['instances'] == []


def test_clean_file_loads_without_warnings(ann_file):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        build(ann_file)


# ---------------------------------------------------------------- composition with mmengine
def test_concat_vid_and_det_datasets(tmp_path):
    vid = write_dataset(tmp_path, cocovid(num_det=0), name='vid.json')
    det = write_dataset(tmp_path, cocovid(num_videos=0, num_det=3), name='det.json')
    prefix = dict(img_path=str(tmp_path / 'images'))
    common = dict(type='CocoVideoDataset', data_prefix=prefix, pipeline=train_pipeline(),
                  metainfo=dict(classes=CLASSES),
                  ref_img_sampler=dict(num_ref_imgs=2, frame_range=9, method='bilateral_uniform'))
    concat = ConcatDataset(datasets=[dict(common, ann_file=vid),
                                     dict(common, ann_file=det, load_as_video=False, metainfo=dict(classes=list(CLASSES)))])
    assert len(concat) == 23 and concat.metainfo['classes'] == CLASSES
    assert concat[3]['inputs'].shape == concat[21]['inputs'].shape == (3, 3, 48, 64)
    assert concat.get_data_info(22)['img_id'] == 3
    built = DATASETS.build(dict(type='ConcatDataset', datasets=[dict(common, ann_file=vid, lazy_init=True)]))
    assert len(built) == 20


def test_default_sampler_trains_on_the_dataset(ann_file):
    dataset = build(ann_file, pipeline=train_pipeline(),
                    ref_img_sampler=dict(num_ref_imgs=2, frame_range=2))
    sampler = DefaultSampler(dataset, shuffle=True, seed=0)
    indices = list(sampler)
    assert sorted(indices) == list(range(22)) and indices != list(range(22))
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, sampler=sampler,
                                         collate_fn=lambda batch: batch)
    batch = next(iter(loader))
    assert len(batch) == 2 and batch[0]['inputs'].shape == (3, 3, 48, 64)


def test_registry_builds_lazily(tmp_path):
    dataset = DATASETS.build(dict(type='CocoVideoDataset', ann_file=str(tmp_path / 'later.json'), lazy_init=True,
                                  ref_img_sampler=dict(num_ref_imgs=2, frame_range=2)))
    assert isinstance(dataset, CocoVideoDataset) and not dataset._fully_initialized


def camera_traps(tmp_path, datetimes=('2013-10-21 11:35:56', '2013:10:21 11:35:57', '2013-10-22T01:00:00')):
    """A COCO Camera Traps file: two sequences at two locations, one image-level label."""
    images, annotations = [], []
    for index, (seq, location, frame, stamp) in enumerate(
            [('s1', 'ridge', 0, datetimes[0]), ('s1', 'ridge', 1, datetimes[1]), ('s2', 12, 0, datetimes[2])]):
        name = f'{seq}_{frame}.jpg'
        write_frame(tmp_path / name, index)
        images.append({'id': f'img{index}', 'file_name': name, 'width': WIDTH, 'height': HEIGHT, 'location': location,
                       'datetime': stamp, 'seq_id': seq, 'seq_num_frames': 2, 'frame_num': frame})
        annotations.append({'id': f'a{index}', 'image_id': f'img{index}', 'category_id': 1, 'bbox': [2, 2, 10, 8]})
    annotations.append({'id': 'empty', 'image_id': 'img2', 'category_id': 2})   # an image-level label, no box
    path = tmp_path / 'cct.json'
    path.write_text(json.dumps({'categories': [{'id': 1, 'name': 'cat'}, {'id': 2, 'name': 'dog'}],
                                'images': images, 'annotations': annotations}))
    return path


def test_camera_traps_json_reads_sequences_as_videos_with_camera_and_time(tmp_path):
    from vmem.datasets.camera_traps import camera_id
    pipeline = [dict(type='LoadFrame'), dict(type='LoadAnnotations'), dict(type='PackDetInputs')]
    dataset = CocoVideoDataset(ann_file=str(camera_traps(tmp_path)), data_prefix=dict(img_path=str(tmp_path)),
                               test_mode=True, pipeline=pipeline)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [(i['video_id'], i['frame_id']) for i in infos] == [(1, 0), (1, 1), (2, 0)]
    assert [i['camera'] for i in infos] == [camera_id('ridge'), camera_id('ridge'), 12]
    assert camera_id('ridge') == camera_id(' ridge ') != camera_id('ridge2') and camera_id('12') == 12
    assert infos[1]['timestamp'] - infos[0]['timestamp'] == 1.0               # EXIF-style stamps parse too
    assert infos[2]['timestamp'] - infos[0]['timestamp'] == 13 * 3600 + 24 * 60 + 4
    assert [len(i['instances']) for i in infos] == [1, 1, 1]                 # the box-less label is left out
    sample = dataset[0]['data_samples']
    assert sample.metainfo['camera'] == camera_id('ridge') and 'timestamp' in sample.metainfo


def test_unreadable_camera_trap_datetime_names_the_file_and_image(tmp_path):
    path = camera_traps(tmp_path, datetimes=('2013-10-21 11:35:56', 'last tuesday', '2013-10-22 01:00:00'))
    with pytest.raises(ValueError, match=r"cct.json: image id img1: cannot read the datetime 'last tuesday'"):
        CocoVideoDataset(ann_file=str(path), data_prefix=dict(img_path=str(tmp_path)), test_mode=True).full_init()

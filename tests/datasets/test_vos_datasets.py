"""DAVISDataset / CocoVOSDataset: streamed test frames with prompts, training clips, bad input,
and VOSMetric on the datasets' own ground truth."""
import json
import random
import warnings

import numpy as np
import pytest
import pycocotools.mask as mask_utils
import torch
from mmengine.structures import InstanceData
from PIL import Image

from vmem.datasets import CocoVOSDataset, DAVISDataset, VOSClipSampler
from vmem.datasets.samplers import VideoSampler
from vmem.datasets.synthetic import generate_synthvid
from vmem.datasets.transforms import decode_mask, masks_to_boxes
from vmem.evaluation.metrics import VOSMetric
from vmem.structures import DetDataSample, TrackDataSample

HEIGHT, WIDTH = 24, 32
VIDEOS = {'alpha': 5, 'beta': 4}


def label_map(t, enter_at=2):
    """Object 1 (a 6x8 box moving right) in every frame, object 2 from frame ``enter_at``,
    a void (255) row on top."""
    labels = np.zeros((HEIGHT, WIDTH), np.uint8)
    labels[2:8, 2 + t:10 + t] = 1
    if t >= enter_at:
        labels[12:20, 16:24] = 2
    labels[0, :] = 255
    return labels


def write_png(path, labels):
    image = Image.frombytes('P', (labels.shape[1], labels.shape[0]), labels.tobytes())
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def write_davis(root, videos=VIDEOS, splits=('train', 'val'), label_fn=label_map):
    for split in splits:
        (root / 'ImageSets' / '2017').mkdir(parents=True, exist_ok=True)
        (root / 'ImageSets' / '2017' / f'{split}.txt').write_text('\n'.join(videos) + '\n')
    rng = np.random.default_rng(0)
    for name, length in videos.items():
        frames = root / 'JPEGImages' / '480p' / name
        frames.mkdir(parents=True, exist_ok=True)
        for t in range(length):
            pixels = rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(frames / f'{t:05d}.jpg')
            write_png(root / 'Annotations' / '480p' / name / f'{t:05d}.png', label_fn(t))
    return root


@pytest.fixture(scope='module')
def davis_root(tmp_path_factory):
    return write_davis(tmp_path_factory.mktemp('davis'))


@pytest.fixture(scope='module')
def synthvid(tmp_path_factory):
    """A 2-video SynthVID val split, and a copy where instance 2 is empty in frames 0-1
    (enters at frame 2) and instance 3 is never visible."""
    out_dir = tmp_path_factory.mktemp('synthvid')
    path = generate_synthvid(out_dir, split='val', num_videos=2, num_frames=6, width=64, height=64,
                             write_videos=False, seed=1, objects_per_video=(2, 3))
    content = json.loads(path.read_text())
    frame_of = {image['id']: image['frame_id'] for image in content['images']}
    rle = mask_utils.encode(np.zeros((64, 64), np.uint8, order='F'))
    empty = {'size': [64, 64], 'counts': rle['counts'].decode('ascii')}
    for ann in content['annotations']:
        if (ann['instance_id'] == 2 and frame_of[ann['image_id']] < 2) or ann['instance_id'] == 3:
            ann['segmentation'] = dict(empty)
    late = out_dir / 'annotations' / 'late.json'
    late.write_text(json.dumps(content))
    return out_dir, str(path), str(late)


def frame_pipeline(scale=(64, 48), flip_prob=None):
    transforms = [dict(type='LoadFrame'), dict(type='LoadVOSAnnotations'),
                  dict(type='Resize', scale=scale, keep_ratio=True)]
    if flip_prob is not None:
        transforms.append(dict(type='RandomFlip', prob=flip_prob))
    return transforms + [dict(type='MasksToBoxes')]


def stream_pipeline(**kwargs):
    return frame_pipeline(**kwargs) + [dict(type='PackDetInputs')]


def clip_pipeline(**kwargs):
    return [dict(type='ApplyToFrames', transforms=frame_pipeline(**kwargs)), dict(type='PackVideoInputs')]


def davis(root, **kwargs):
    kwargs.setdefault('split', 'val')
    return DAVISDataset(data_root=str(root), **kwargs)


def resized(mask, shape=(48, 64)):
    block = np.ones((shape[0] // mask.shape[0], shape[1] // mask.shape[1]), np.uint8)
    return np.kron(mask, block).astype(bool)


# ---------------------------------------------------------------- test mode
def test_davis_test_items_stream_frames_in_order_with_first_appearance_prompts(davis_root):
    dataset = davis(davis_root, test_mode=True, pipeline=stream_pipeline())
    assert len(dataset) == 9 and dataset.metainfo['classes'] == ('object',)
    assert dataset.video_groups() == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]
    assert list(VideoSampler(dataset=dataset, rank=0, world_size=1)) == list(range(9))
    prompts = {}
    for index in range(len(dataset)):
        item = dataset[index]
        sample = item['data_samples']
        assert isinstance(sample, DetDataSample) and item['inputs'].shape == (3, 48, 64)
        video = 0 if index < 5 else 1
        assert (sample.video_id, sample.video_name) == (video, ['alpha', 'beta'][video])
        assert sample.frame_id == index - 5 * video and sample.video_length == [5, 4][video]
        assert sample.img_path.endswith(f"{['alpha', 'beta'][video]}/{sample.frame_id:05d}.jpg")
        assert sample.ori_shape == (24, 32) and sample.img_shape == (48, 64)
        assert sample.scale_factor == (2.0, 2.0)
        gt = sample.gt_instances
        prompts[(video, sample.frame_id)] = gt.instance_ids.tolist()
        assert gt.masks.dtype == torch.bool and gt.masks.shape == (len(gt), 48, 64)
        for mask, object_id, box in zip(gt.masks.numpy(), gt.instance_ids.tolist(), gt.bboxes.numpy()):
            expected = resized(label_map(sample.frame_id) == object_id)
            np.testing.assert_array_equal(mask, expected)
            np.testing.assert_array_equal(box, masks_to_boxes(expected[None])[0])
    assert prompts == {(0, 0): [1], (0, 1): [], (0, 2): [2], (0, 3): [], (0, 4): [],
                       (1, 0): [1], (1, 1): [], (1, 2): [2], (1, 3): []}


def test_synthvid_prompts_follow_first_non_empty_mask(synthvid):
    out_dir, path, late = synthvid
    for ann_file, expected_late in ((path, None), (late, 2)):
        dataset = CocoVOSDataset(ann_file=ann_file, test_mode=True,
                                 data_prefix=dict(img_path=str(out_dir / 'val' / 'frames')),
                                 pipeline=stream_pipeline(scale=(64, 64)))
        assert len(dataset) == 12 and len(dataset.metainfo['classes']) == 8
        prompted = {}
        for index in range(len(dataset)):
            sample = dataset[index]['data_samples']
            assert sample.frame_id == index % 6 and sample.video_name == f'val_{index // 6:05d}'
            for object_id, label in zip(sample.gt_instances.instance_ids.tolist(),
                                        sample.gt_instances.labels.tolist()):
                prompted[object_id] = sample.frame_id
                assert 0 <= label < 8
            assert sample.gt_instances.masks.flatten(1).any(1).all()  # prompts are never empty
        if expected_late is None:
            assert set(prompted.values()) == {0}
        else:
            assert prompted[2] == expected_late and 3 not in prompted


# ---------------------------------------------------------------- training clips
def test_davis_train_clips_are_ordered_frames_with_one_object_list(davis_root):
    dataset = davis(davis_root, split='train', clip_length=4, max_stride=1, max_objects=2,
                    pipeline=clip_pipeline())
    assert len(dataset) == 2
    random.seed(3)
    for index in range(len(dataset)):
        for _ in range(5):
            item = dataset[index]
            sample = item['data_samples']
            assert isinstance(sample, TrackDataSample) and item['inputs'].shape == (4, 3, 48, 64)
            assert item['inputs'].dtype == torch.uint8
            assert sample.key_frames_inds == [0] and sample.ref_frames_inds == [1, 2, 3]
            frame_ids = [frame.frame_id for frame in sample]
            assert frame_ids == list(range(frame_ids[0], frame_ids[0] + 4))
            first_ids = sample[0].gt_instances.instance_ids.tolist()
            assert first_ids and first_ids == sorted(first_ids)
            for frame in sample:
                gt = frame.gt_instances
                assert gt.instance_ids.tolist() == first_ids and gt.masks.shape == (len(first_ids), 48, 64)
                for mask, object_id, box in zip(gt.masks.numpy(), first_ids, gt.bboxes.numpy()):
                    expected = resized(label_map(frame.frame_id) == object_id)
                    np.testing.assert_array_equal(mask, expected)
                    np.testing.assert_array_equal(box, masks_to_boxes(expected[None])[0])
            assert sample[0].gt_instances.masks.flatten(1).any(1).all()  # frame 0 prompts every object


def test_objects_are_a_random_subset_of_those_visible_in_the_first_frame(davis_root):
    dataset = davis(davis_root, split='train', clip_length=2, max_objects=1, pipeline=clip_pipeline())
    random.seed(0)
    seen = set()
    for _ in range(40):
        sample = dataset[0]['data_samples']
        ids = sample[0].gt_instances.instance_ids.tolist()
        assert len(ids) == 1 and ids[0] in (1, 2)
        if ids == [2]:
            assert sample[0].frame_id >= 2  # object 2 is visible from frame 2 only
        seen.add(ids[0])
    assert seen == {1, 2}


def test_flips_flip_masks_and_absent_objects_keep_zero_boxes(tmp_path):
    def object_2_only_in_frame_0(t):
        labels = label_map(t, enter_at=0)
        labels[labels == 2] = 0 if t else 2
        return labels

    # later frames carry an empty mask for object 2
    root = write_davis(tmp_path, videos={'gamma': 3}, label_fn=object_2_only_in_frame_0)
    plain = davis(root, split='train', clip_length=3, max_objects=2, pipeline=clip_pipeline(flip_prob=0.0))
    flipped = davis(root, split='train', clip_length=3, max_objects=2, pipeline=clip_pipeline(flip_prob=1.0))
    random.seed(1)
    a = plain[0]['data_samples']
    random.seed(1)
    b = flipped[0]['data_samples']
    assert [f.frame_id for f in a] == [f.frame_id for f in b] == [0, 1, 2]
    assert a[0].gt_instances.instance_ids.tolist() == [1, 2]
    for frame_a, frame_b in zip(a, b):
        assert frame_b.flip and frame_b.flip_direction == 'horizontal'
        assert torch.equal(frame_b.gt_instances.masks, frame_a.gt_instances.masks.flip(-1))
        boxes_a, boxes_b = frame_a.gt_instances.bboxes, frame_b.gt_instances.bboxes
        present = frame_a.gt_instances.masks.flatten(1).any(1)
        assert torch.equal(boxes_b[present][:, [0, 2]], 64 - boxes_a[present][:, [2, 0]])
        assert not boxes_b[~present].any()  # an absent object's box stays [0, 0, 0, 0]
    assert not a[1].gt_instances.masks[1].any()


def test_clip_sampler_strides_short_videos_and_object_choice():
    sampler = VOSClipSampler(clip_length=4, max_stride=3, max_objects=2)
    rng = random.Random(0)
    visible = [(), (), (5,), (5, 7), (5, 7, 9)] + [(5,)] * 15
    strides = set()
    for _ in range(200):
        positions, objects = sampler.sample(visible, rng)
        stride = positions[1] - positions[0]
        strides.add(stride)
        assert positions == [positions[0] + i * stride for i in range(4)] and positions[-1] < 20
        assert visible[positions[0]] and set(objects) <= set(visible[positions[0]])
        assert objects == sorted(objects) and 1 <= len(objects) <= 2
    assert strides == {1, 2, 3}
    # too short for stride 3 from any visible start: the largest fitting stride is used
    positions, _ = sampler.sample([(1,)] * 7, random.Random(0))
    assert positions[-1] - positions[0] <= 6 and positions[1] - positions[0] in (1, 2)
    # shorter than the clip: what exists, then the last frame repeated
    assert sampler.sample([(1,), (1,)], random.Random(0))[0] == [0, 1, 1, 1]
    assert sampler.sample([(1,)], random.Random(0)) == ([0, 0, 0, 0], [1])
    with pytest.raises(ValueError, match='no frame'):
        sampler.sample([(), ()], rng)
    with pytest.raises(ValueError, match='max_stride'):
        VOSClipSampler(max_stride=0)


def test_one_frame_videos_and_videos_without_objects(tmp_path):
    root = write_davis(tmp_path, videos={'single': 1, 'empty': 3})
    for t in range(3):  # 'empty' shows no object at all
        write_png(tmp_path / 'Annotations' / '480p' / 'empty' / f'{t:05d}.png',
                  np.zeros((HEIGHT, WIDTH), np.uint8))
    with pytest.warns(UserWarning, match='1 video'):
        train = davis(root, split='train', clip_length=3, pipeline=clip_pipeline())
    assert len(train) == 1
    sample = train[0]['data_samples']
    assert [f.frame_id for f in sample] == [0, 0, 0] and train[0]['inputs'].shape[0] == 3
    test = davis(root, test_mode=True, pipeline=stream_pipeline())
    assert [len(test[i]['data_samples'].gt_instances) for i in range(len(test))] == [1, 0, 0, 0]


# ---------------------------------------------------------------- bad input
def test_bad_davis_layouts_name_the_file(tmp_path, davis_root):
    with pytest.raises(FileNotFoundError, match=r'ImageSets/2017/nope\.txt'):
        davis(davis_root, split='nope')
    root = write_davis(tmp_path / 'a', videos={'alpha': 2})
    (root / 'ImageSets' / '2017' / 'val.txt').write_text('alpha\nghost\n')
    with pytest.raises(FileNotFoundError, match=r'JPEGImages/480p/ghost'):
        davis(root)
    (root / 'JPEGImages' / '480p' / 'ghost').mkdir()
    with pytest.raises(ValueError, match=r"'ghost' has no \.jpg frames"):
        davis(root)

    root = write_davis(tmp_path / 'b', videos={'alpha': 2})
    write_png(root / 'Annotations' / '480p' / 'alpha' / '00001.png', np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=r'alpha/00001\.png is 10x10 .* is 24x32'):
        davis(root)
    Image.new('RGB', (WIDTH, HEIGHT)).save(root / 'Annotations' / '480p' / 'alpha' / '00001.png')
    with pytest.raises(ValueError, match=r"00001\.png: expected an indexed .* mode 'RGB'"):
        davis(root)

    root = write_davis(tmp_path / 'c', videos={'alpha': 2})
    (root / 'Annotations' / '480p' / 'alpha' / '00001.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'alpha/00001\.png'):
        davis(root, split='train')
    assert len(davis(root, test_mode=True)) == 2  # test-dev style: only frame 0 annotated


def test_cocovid_without_instance_ids_is_rejected(synthvid, tmp_path):
    _, path, _ = synthvid
    content = json.loads(open(path).read())
    del content['annotations'][4]['instance_id']
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=r'bad\.json.*instance_id'):
        CocoVOSDataset(ann_file=str(bad), test_mode=True)


# ---------------------------------------------------------------- end to end with the metric
def predictions_from_truth(masks_by_id, empty=False):
    ids = sorted(masks_by_id)
    masks = np.stack([masks_by_id[i] for i in ids]) if ids else np.zeros((0, HEIGHT, WIDTH), bool)
    if empty:
        masks = np.zeros_like(masks)
    return InstanceData(masks=torch.from_numpy(masks), instance_ids=torch.tensor(ids, dtype=torch.int64),
                        scores=torch.ones(len(ids)), bboxes=torch.from_numpy(masks_to_boxes(masks)))


def run_metric(metric, dataset, truth_of, empty):
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        sample.pred_track_instances = predictions_from_truth(truth_of(dataset, index), empty)
        metric.process({}, [sample.to_dict()])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return metric.evaluate(len(dataset))


def davis_truth(dataset, index):
    info = dataset.get_data_info(index)
    labels = np.asarray(Image.open(info['seg_map_path']))
    return {i: labels == i for i in (1, 2) if (labels == i).any()}


def synthvid_truth(dataset, index):
    info = dataset.get_data_info(index)
    return {inst['instance_id']: decode_mask(inst['mask'], info['height'], info['width']).astype(bool)
            for inst in info['instances']}


@pytest.mark.parametrize('empty', [False, True])
def test_metric_on_the_datasets_own_truth(davis_root, synthvid, empty):
    expected = 0.0 if empty else 1.0
    dataset = davis(davis_root, test_mode=True, pipeline=stream_pipeline())
    scores = run_metric(VOSMetric(data_root=str(davis_root), split='val'), dataset, davis_truth, empty)
    assert scores['vos/J&F'] == scores['vos/J'] == scores['vos/F'] == expected
    assert scores['vos/J_recall'] == scores['vos/F_recall'] == expected
    assert scores['box/success_auc'] == pytest.approx(0.0 if empty else 20 / 21)  # OTB: IoU > 1 never holds
    assert scores['box/precision@20'] == expected

    out_dir, _, late = synthvid
    dataset = CocoVOSDataset(ann_file=late, data_prefix=dict(img_path=str(out_dir / 'val' / 'frames')),
                             test_mode=True, pipeline=stream_pipeline(scale=(64, 64)))
    metric = VOSMetric(ann_file=late)
    scores = run_metric(metric, dataset, synthvid_truth, empty)
    assert scores['vos/J&F'] == expected and scores['box/precision@20'] == expected
    assert sorted(metric.per_sequence) == ['val_00000', 'val_00001']

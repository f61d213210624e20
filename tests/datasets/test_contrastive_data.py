"""Data for contrastive pretraining: image folders, video frames (with temporal positives),
object crops, the MoCo v2 view transform and the packed forms through the data preprocessor."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torchvision.transforms import v2

from vmem.datasets import ObjectCropDataset, UnlabeledImageFolder, VideoFrameDataset
from vmem.datasets.synthetic import generate_synthvid
from vmem.datasets.transforms import ContrastiveViews, PackClassificationInputs
from vmem.models.data_preprocessors import DetDataPreprocessor
from vmem.registry import DATASETS
from vmem.video import VideoWriter, read_image

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'datasets'
TEMPORAL_PIPELINE = [dict(type='ApplyToFrames', transforms=[dict(type='LoadFrame')]),
                     dict(type='ContrastiveViews', size=32), dict(type='PackContrastiveInputs')]


@pytest.fixture(scope='module')
def synthvid(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid')
    for split in ('train', 'val'):
        generate_synthvid(root, split=split, num_videos=2, num_frames=4, width=96, height=64,
                          write_videos=False)
    return root


def _write_png(path, seed, size=(20, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8))


def test_image_folder_items_sorted_recursive_and_capped(tmp_path):
    for name in ('b.png', 'a.jpg', 'sub/c.PNG'):
        _write_png(tmp_path / name, len(name))
    (tmp_path / 'notes.txt').write_text('not an image')
    data = UnlabeledImageFolder(data_root=str(tmp_path), pipeline=[dict(type='LoadFrame')])
    assert [Path(data.get_data_info(i)['img_path']).relative_to(tmp_path).as_posix() for i in range(len(data))] \
        == ['a.jpg', 'b.png', 'sub/c.PNG']
    assert data[2]['img'].shape == (20, 30, 3) and data.get_data_info(2)['img_id'] == 2
    assert len(UnlabeledImageFolder(data_root=str(tmp_path), recursive=False)) == 2
    assert len(UnlabeledImageFolder(data_root=str(tmp_path), max_images=1)) == 1


def test_image_folder_bad_input_names_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.*\\.png'):
        UnlabeledImageFolder(data_root=str(tmp_path / 'missing'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='\\.jpg.*empty'):
        UnlabeledImageFolder(data_root=str(tmp_path / 'empty'))


def test_contrastive_views_differ_and_knobs_apply():
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    torch.manual_seed(0)
    views = ContrastiveViews(size=32)(dict(img=image))['views']
    assert views.shape == (2, 3, 32, 32) and views.dtype == torch.uint8
    assert not torch.equal(views[0], views[1])
    # With every random step switched off both views are the plain resized image.
    # (the crop is then the whole image: scale 1 at the image's own aspect ratio)
    plain = ContrastiveViews(size=(20, 25), scale=(1.0, 1.0), jitter_prob=0, grayscale_prob=0, blur_prob=0,
                             hflip_prob=0)(dict(img=image))['views']
    resized = v2.functional.resize(torch.from_numpy(image).permute(2, 0, 1), [20, 25], antialias=True)
    assert torch.equal(plain[0], resized) and torch.equal(plain[1], resized)


def test_object_crops_items_labels_and_crop_pixels(synthvid):
    ann_file = synthvid / 'annotations' / 'synthvid_train.json'
    content = json.loads(ann_file.read_text())
    pipeline = [dict(type='LoadFrame'), dict(type='CropObject')]
    data = ObjectCropDataset(ann_file=str(ann_file), data_prefix=dict(img_path=str(synthvid / 'train/frames')),
                             pipeline=pipeline, min_size=8, context=0.0)
    categories = sorted(content['categories'], key=lambda c: c['id'])
    assert data.metainfo['classes'] == tuple(c['name'] for c in categories) and len(categories) == 8
    label_of = {c['id']: label for label, c in enumerate(categories)}

    def shorter_side(x, y, w, h):   # of the box clipped to the 96x64 frame
        return min(min(x + w, 96) - max(x, 0), min(y + h, 64) - max(y, 0))
    expected = sorted((a['image_id'], label_of[a['category_id']], a['instance_id'])
                      for a in content['annotations'] if shorter_side(*a['bbox']) >= 8 and not a['iscrowd'])
    got = sorted((data.get_data_info(i)['img_id'], data.get_data_info(i)['gt_label'],
                  data.get_data_info(i)['instance_id']) for i in range(len(data)))
    assert got == expected and len(got) > 0
    item = data[0]
    x1, y1, x2, y2 = item['crop_box']
    frame = read_image(item['img_path'])
    assert np.array_equal(item['img'], frame[y1:y2, x1:x2])
    bx1, by1, bx2, by2 = item['bbox']
    assert (x1, y1, x2, y2) == (int(np.floor(bx1)), int(np.floor(by1)), int(np.ceil(bx2)), int(np.ceil(by2)))
    # context grows the box on every side but never past the frame
    wide = ObjectCropDataset(ann_file=str(ann_file), data_prefix=dict(img_path=str(synthvid / 'train/frames')),
                             context=0.5).get_data_info(0)['crop_box']
    assert wide[0] <= x1 and wide[1] <= y1 and wide[2] >= x2 and wide[3] >= y2 and wide != [x1, y1, x2, y2]
    assert wide[0] >= 0 and wide[1] >= 0 and wide[2] <= 96 and wide[3] <= 64
    capped = ObjectCropDataset(ann_file=str(ann_file), data_prefix=dict(img_path=str(synthvid / 'train/frames')),
                               max_per_class=1, frame_interval=2)
    labels = [capped.get_data_info(i)['gt_label'] for i in range(len(capped))]
    assert len(labels) == len(set(labels)) > 0
    assert all(capped.get_data_info(i)['frame_id'] % 2 == 0 for i in range(len(capped)))


def test_object_crops_bad_json_names_file(tmp_path):
    ann_file = tmp_path / 'no_boxes.json'
    ann_file.write_text(json.dumps({'categories': [{'id': 1, 'name': 'a'}], 'annotations': [],
                                    'images': [{'id': 1, 'file_name': 'x.jpg', 'width': 8, 'height': 8}]}))
    with pytest.raises(ValueError, match='no_boxes.json.*annotations'):
        ObjectCropDataset(ann_file=str(ann_file))
    ann_file.write_text(json.dumps({'images': [], 'annotations': []}))
    with pytest.raises(ValueError, match='no_boxes.json.*categories'):
        ObjectCropDataset(ann_file=str(ann_file))


def test_object_crops_temporal_positive_is_the_same_object_nearby(synthvid):
    pipeline = [dict(type='ApplyToFrames', transforms=[dict(type='LoadFrame'), dict(type='CropObject')]),
                dict(type='ContrastiveViews', size=32), dict(type='PackContrastiveInputs')]
    data = ObjectCropDataset(ann_file=str(synthvid / 'annotations' / 'synthvid_train.json'),
                             data_prefix=dict(img_path=str(synthvid / 'train/frames')),
                             frame_interval=2, positive_max_offset=1, pipeline=pipeline)
    assert {data.get_data_info(i)['frame_id'] for i in range(len(data))} <= {0, 2}
    offsets = set()
    for index in range(len(data)):
        for _ in range(5):
            info = data.get_data_info(index)
            (ref,) = info['ref_frames']
            assert (ref['video_id'], ref['instance_id'], ref['gt_label']) == \
                (info['video_id'], info['instance_id'], info['gt_label'])
            offsets.add(ref['frame_id'] - info['frame_id'])
    # positives come from frames that are not items themselves (odd frames), never the same one
    assert offsets <= {-1, 1} and offsets
    packed = data[0]
    assert packed['inputs'].shape == (2, 3, 32, 32)
    assert packed['data_samples'].metainfo['ref_frame_id'] != packed['data_samples'].metainfo['frame_id']
    with pytest.raises(ValueError, match='positive_max_offset'):
        ObjectCropDataset(ann_file=str(synthvid / 'annotations' / 'synthvid_train.json'), positive_max_offset=0)


def test_video_frames_temporal_pairs_from_json(synthvid):
    data = VideoFrameDataset(ann_file=str(synthvid / 'annotations' / 'synthvid_train.json'),
                             data_prefix=dict(img_path=str(synthvid / 'train/frames')),
                             frame_interval=2, positive_max_offset=1, pipeline=TEMPORAL_PIPELINE)
    assert len(data) == 4 and [data.get_data_info(i)['frame_id'] for i in range(4)] == [0, 2, 0, 2]
    offsets = set()
    for index in range(len(data)):
        for _ in range(10):
            info = data.get_data_info(index)
            (ref,) = info['ref_frames']
            assert ref['video_id'] == info['video_id']
            offsets.add(ref['frame_id'] - info['frame_id'])
    assert offsets == {-1, 1}
    packed = data[1]
    meta = packed['data_samples'].metainfo
    assert packed['inputs'].shape == (2, 3, 32, 32)
    assert abs(meta['ref_frame_id'] - meta['frame_id']) == 1 and meta['ref_img_path'] != meta['img_path']


def test_video_frames_from_folders_and_video_files(synthvid, tmp_path):
    folders = VideoFrameDataset(data_root=str(synthvid / 'train' / 'frames'))
    assert len(folders) == 8 and folders.get_data_info(5)['img_path'].endswith('train_00001/000001.jpg')
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(3)]  # (decord garbles 48-wide videos)
    with VideoWriter(tmp_path / 'clip.mp4', fps=5) as writer:
        for frame in frames:
            writer.write(frame)
    videos = VideoFrameDataset(data_root=str(tmp_path), positive_max_offset=2, pipeline=TEMPORAL_PIPELINE)
    assert len(videos) == 3 and videos.get_data_info(2)['video_path'].endswith('clip.mp4')
    info = videos.get_data_info(0)
    assert 1 <= info['ref_frames'][0]['frame_id'] <= 2
    assert videos[0]['inputs'].shape == (2, 3, 32, 32)
    with pytest.raises(FileNotFoundError, match='nowhere'):
        VideoFrameDataset(data_root=str(tmp_path / 'nowhere'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='empty.*frame folders'):
        VideoFrameDataset(data_root=str(tmp_path / 'empty'))


def test_config_pipelines_build_and_batch_through_preprocessor(synthvid):
    cfg = Config.fromfile(str(CONFIGS / 'synthvid_crops.py'))
    assert cfg.crop_size == 64 and cfg.train_dataloader.drop_last and cfg.train_dataloader.batch_size == 64
    preprocessor = DetDataPreprocessor(pad_size_divisor=1)
    train = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(synthvid)))
    batch = preprocessor(pseudo_collate([train[0], train[1], train[2]]), training=True)
    assert batch['inputs'].shape == (3, 3, 64, 64) and batch['ref_inputs'].shape == (3, 1, 3, 64, 64)
    assert not torch.equal(batch['inputs'], batch['ref_inputs'][:, 0])
    for key in ('eval_train_dataloader', 'eval_test_dataloader'):
        evaluation = DATASETS.build(dict(cfg[key].dataset, data_root=str(synthvid)))
        assert all(evaluation.get_data_info(i)['frame_id'] % 4 == 0 for i in range(len(evaluation)))
        items = [evaluation[i] for i in range(2)]
        assert items[0]['inputs'].shape == (3, 64, 64)
        assert items[0]['data_samples'].metainfo['gt_label'] == evaluation.get_data_info(0)['gt_label']
        batch = preprocessor(pseudo_collate(items))
        assert batch['inputs'].shape == (2, 3, 64, 64) and 'ref_inputs' not in batch
    folder_cfg = Config.fromfile(str(CONFIGS / 'image_folder_views.py'))
    images = DATASETS.build(dict(folder_cfg.train_dataloader.dataset, data_root=str(synthvid / 'val')))
    assert images[0]['inputs'].shape == (2, 3, 224, 224)


def test_pack_classification_needs_label():
    with pytest.raises(ValueError, match='gt_label'):
        PackClassificationInputs()(dict(img=np.zeros((4, 4, 3), np.uint8), img_path='x.png'))

import json

import pytest
from mmengine.dataset import ConcatDataset, DefaultSampler

from vmem.datasets.coco_video import CocoVideoDataset
from vmem.datasets.samplers import VideoSampler, split_videos, video_groups
from vmem.registry import DATA_SAMPLERS

VIDEO_LENGTHS = (10, 3, 7, 5)


def write_ann(tmp_path, video_lengths=VIDEO_LENGTHS, num_det=2, name='ann.json', first_video_id=1):
    """No image files: samplers never load frames. Frames listed out of order on purpose."""
    content = {'categories': [{'id': 1, 'name': 'cat'}], 'annotations': [],
               'videos': [{'id': v + first_video_id} for v in range(len(video_lengths))], 'images': []}
    for v, length in enumerate(video_lengths):
        for f in reversed(range(length)):
            content['images'].append({'id': len(content['images']) + 1, 'video_id': v + first_video_id, 'frame_id': f,
                                      'file_name': f'{v}/{f}.jpg', 'width': 8, 'height': 8})
    for d in range(num_det):
        content['images'].append({'id': len(content['images']) + 1, 'file_name': f'det{d}.jpg',
                                  'width': 8, 'height': 8})
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return str(path)


def frame_keys(dataset, indices):
    infos = [dataset.get_data_info(i) for i in indices]
    return [(info['video_id'], info['frame_id'], info['img_id']) for info in infos]


def check_split(dataset, world_size):
    per_rank = [list(VideoSampler(dataset=dataset, seed=0, rank=r, world_size=world_size))
                for r in range(world_size)]
    everything = sorted(i for indices in per_rank for i in indices)
    assert everything == list(range(len(dataset)))  # every frame exactly once
    rank_of_video = {}
    for rank, indices in enumerate(per_rank):
        keys = frame_keys(dataset, indices)
        for video, _, _ in keys:
            if video is not None:  # DET images are one-frame videos: nothing to keep together
                assert rank_of_video.setdefault(video, rank) == rank  # a video stays on one rank
        for (video_a, frame_a, _), (video_b, frame_b, _) in zip(keys, keys[1:]):
            if video_a == video_b and video_a is not None:
                assert frame_b == frame_a + 1  # frames in order, not interleaved
    return [len(indices) for indices in per_rank]


@pytest.mark.parametrize('world_size', [1, 2, 3])
def test_video_sampler_splits_whole_videos(tmp_path, world_size):
    dataset = CocoVideoDataset(ann_file=write_ann(tmp_path), test_mode=True)
    loads = check_split(dataset, world_size)
    assert sum(loads) == sum(VIDEO_LENGTHS) + 2
    assert max(loads) - min(loads) <= max(VIDEO_LENGTHS)
    if world_size == 1:
        assert list(VideoSampler(dataset=dataset, rank=0, world_size=1)) == list(range(len(dataset)))
    if world_size == 3:
        assert sorted(loads) == [8, 9, 10]  # {10}, {7, 1, 1}, {5, 3}: the best split of 27 frames


def test_split_videos_balances_by_frame_count():
    # largest first to the least loaded rank: 10->0, 7->1, 5->1, 3->0, 1->1, 1->0 (tie: lower rank)
    assert split_videos([10, 3, 7, 5, 1, 1], 2) == [[0, 1, 5], [2, 3, 4]]
    assert split_videos([4], 3) == [[0], [], []]


def test_video_sampler_on_concat_and_generic_datasets(tmp_path):
    first = CocoVideoDataset(ann_file=write_ann(tmp_path, (4, 2), 1, 'a.json'), test_mode=True)
    second = CocoVideoDataset(ann_file=write_ann(tmp_path, (3,), 2, 'b.json', first_video_id=10), test_mode=True)
    concat = ConcatDataset(datasets=[first, second])
    groups = video_groups(concat)
    assert groups == [[0, 1, 2, 3], [4, 5], [6], [7, 8, 9], [10], [11]]
    check_split(concat, 2)

    class FrameList:
        """A dataset with only get_data_info: frames shuffled, one DET image."""
        infos = [dict(video_id=1, frame_id=1), dict(video_id=2, frame_id=0), dict(video_id=1, frame_id=0),
                 dict(video_id=None, frame_id=0)]

        def __len__(self):
            return len(self.infos)

        def get_data_info(self, index):
            return self.infos[index]

    assert video_groups(FrameList()) == [[2, 0], [1], [3]]
    with pytest.raises(TypeError, match='get_data_info'):
        video_groups([1, 2])


def test_video_sampler_builds_from_registry_with_dataset_config(tmp_path):
    ann_file = write_ann(tmp_path)
    sampler = DATA_SAMPLERS.build(dict(type='VideoSampler', rank=1, world_size=2,
                                       dataset=dict(type='CocoVideoDataset', ann_file=ann_file,
                                                    test_mode=True, lazy_init=True)))
    assert isinstance(sampler, VideoSampler) and 0 < len(sampler) < sum(VIDEO_LENGTHS) + 2
    sampler.set_epoch(3)
    default_rank = VideoSampler(dataset=CocoVideoDataset(ann_file=ann_file, test_mode=True))
    assert (default_rank.rank, default_rank.world_size) == (0, 1)
    with pytest.raises(ValueError, match='rank'):
        VideoSampler(dataset=[], rank=2, world_size=2)


def test_few_videos_for_many_ranks_warns(tmp_path):
    dataset = CocoVideoDataset(ann_file=write_ann(tmp_path, (3,), 0), test_mode=True)
    with pytest.warns(UserWarning, match='1 video'):
        assert len(VideoSampler(dataset=dataset, rank=1, world_size=2)) == 0


def test_default_sampler_covers_the_dataset_for_training(tmp_path):
    dataset = CocoVideoDataset(ann_file=write_ann(tmp_path))
    assert sorted(DefaultSampler(dataset, shuffle=True, seed=1)) == list(range(len(dataset)))

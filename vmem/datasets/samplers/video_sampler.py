"""Test-time sampling that keeps each video whole, in order, on one rank."""
from __future__ import annotations

import warnings
from typing import Iterator, List, Optional, Sized

from mmengine.dataset import ConcatDataset
from mmengine.dist import get_dist_info
from torch.utils.data import Sampler

from vmem.registry import DATA_SAMPLERS, DATASETS


def video_groups(dataset) -> List[List[int]]:
    """Item indices of ``dataset`` grouped by video, frames in temporal order.

    Uses ``dataset.video_groups()`` where the dataset has it (``CocoVideoDataset``), combines
    the parts of an mmengine ``ConcatDataset``, and otherwise reads ``video_id`` / ``frame_id``
    from ``get_data_info`` (items without a ``video_id`` are one-frame videos).
    """
    if hasattr(dataset, 'video_groups'):
        return dataset.video_groups()
    if isinstance(dataset, ConcatDataset):
        dataset.full_init()
        groups, offset = [], 0
        for part, end in zip(dataset.datasets, dataset.cumulative_sizes):
            groups += [[offset + i for i in group] for group in video_groups(part)]
            offset = end
        return groups
    if not hasattr(dataset, 'get_data_info'):
        raise TypeError(f'VideoSampler needs a dataset with video_groups() or get_data_info(), '
                        f'got {type(dataset).__name__}')
    by_video: dict = {}
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        video = info.get('video_id')
        key = ('video', video) if video is not None else ('image', index)
        by_video.setdefault(key, []).append((info.get('frame_id', 0), index))
    return [[index for _, index in sorted(frames)] for frames in by_video.values()]


def split_videos(sizes: List[int], world_size: int) -> List[List[int]]:
    """Video indices per rank, balancing frame counts (largest video first to the least
    loaded rank), each rank's videos kept in dataset order."""
    loads = [0] * world_size
    assigned: List[List[int]] = [[] for _ in range(world_size)]
    for video in sorted(range(len(sizes)), key=lambda v: (-sizes[v], v)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        loads[rank] += sizes[video]
        assigned[rank].append(video)
    return [sorted(videos) for videos in assigned]


@DATA_SAMPLERS.register_module()
class VideoSampler(Sampler):
    """Every frame exactly once; whole videos per rank, their frames in order.

    Memory-based models carry state from frame to frame at test time, so a video must not be
    cut between ranks or shuffled. Videos are spread over ranks to balance frame counts.
    ``seed`` is accepted for mmengine's sampler interface and unused (nothing is random).
    ``rank``/``world_size`` default to ``mmengine.dist.get_dist_info()``. ``dataset`` may be
    a config dict, built with the DATASETS registry.
    """

    def __init__(self, *, dataset, seed: Optional[int] = None,
                 rank: Optional[int] = None, world_size: Optional[int] = None):
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        dist_rank, dist_world_size = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world_size if world_size is None else world_size
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f'need 0 <= rank < world_size, got rank {self.rank}, '
                             f'world_size {self.world_size}')
        self.dataset: Sized = dataset
        self.seed = seed
        self._indices: Optional[List[int]] = None  # computed on first use: datasets may be lazy

    @property
    def indices(self) -> List[int]:
        if self._indices is None:
            groups = video_groups(self.dataset)
            if len(groups) < self.world_size:
                warnings.warn(f'{len(groups)} video(s) for {self.world_size} ranks: '
                              'some ranks get no frames')
            mine = split_videos([len(group) for group in groups], self.world_size)[self.rank]
            self._indices = [index for video in mine for index in groups[video]]
        return self._indices

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        """Part of mmengine's sampler interface; the order never changes."""

"""Frames of videos as items for contrastive learning, optionally with a temporal positive."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init

from vmem.registry import DATASETS
from vmem.video import IMAGE_EXTENSIONS, list_frame_folder, natural_sort_key, open_video

from .cocovid_parser import load_cocovid
from .item_subsets import ItemSubsets
from .ref_frame_sampler import RefFrameSampler

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v')


@DATASETS.register_module()
class VideoFrameDataset(ItemSubsets, BaseDataset):
    """Every ``frame_interval``-th frame of a set of videos, one item per frame.

    Sources, chosen by the arguments:

    - ``ann_file`` set: the frames of a CocoVID json (``CocoVideoDataset``'s format; image
      paths under ``data_prefix['img_path']``). Boxes are not loaded; images without a
      video are one-frame videos.
    - otherwise the folder ``data_prefix['img_path']`` (or ``data_root``): each sub-folder
      holding images is one video (frames in natural order: 2 before 10), each file ending
      in ``video_extensions`` is one video decoded by ``vmem.video``. Other entries are
      skipped.

    An item is ``img_path`` (frame images) or ``video_path`` + ``frame_id`` (video files),
    with ``img_id``, ``video_id``, ``frame_id``, ``video_length`` and ``video_name`` —
    what ``LoadFrame`` reads.

    ``positive_max_offset=N`` makes temporal positive pairs (the second view of a contrastive
    pair comes from another moment of the same video rather than another crop of the same
    image): the item then also holds ``ref_frames``, a list with the data info of one other
    frame of the video, drawn at an offset in [-N, N] positions, never 0 unless the video has
    a single frame. This is ``CocoVideoDataset``'s clip layout, so the pipeline loads it with
    ``ApplyToFrames(transforms=[dict(type='LoadFrame')])``. Offsets count frames in the
    video (not ``frame_interval`` steps) and the drawn frame need not be a key frame. The
    draw uses Python's global ``random``, which mmengine seeds per worker.

    Args:
        data_root: root folder; relative ``ann_file`` and ``data_prefix`` are joined to it.
        ann_file: a CocoVID json, or ``''`` to scan a folder.
        data_prefix: ``dict(img_path=...)``: image folder of the json, or the folder to scan.
        pipeline: the transforms.
        frame_interval: take frames at positions 0, n, 2n, ... of each video.
        positive_max_offset: N above, or None for single-frame items.
        video_extensions: file endings that count as videos when scanning a folder.
        **kwargs: passed to mmengine's ``BaseDataset`` (``indices``, ``lazy_init``, ...).
    """
    ITEMS = '_items'

    def __init__(self, *, data_root: str = '', ann_file: str = '', data_prefix: Optional[dict] = None,
                 pipeline: Sequence = (), frame_interval: int = 1,
                 positive_max_offset: Optional[int] = None,
                 video_extensions: Sequence[str] = VIDEO_EXTENSIONS, **kwargs) -> None:
        if isinstance(frame_interval, bool) or not isinstance(frame_interval, int) or frame_interval < 1:
            raise ValueError(f'frame_interval must be a positive int, got {frame_interval!r}')
        if positive_max_offset is not None and (isinstance(positive_max_offset, bool)
                                                or not isinstance(positive_max_offset, int)
                                                or positive_max_offset < 1):
            raise ValueError(f'positive_max_offset must be a positive int, or None for views of '
                             f'the same frame, got {positive_max_offset!r}')
        self.frame_interval = frame_interval
        self.positive_max_offset = positive_max_offset
        # 'uniform' over [-N, N] without the key frame is exactly the temporal-positive draw,
        # including its fallback to the key frame itself for one-frame videos.
        self._positive_sampler = None if positive_max_offset is None else RefFrameSampler(
            num_ref_imgs=1, frame_range=positive_max_offset, filter_key_img=True, method='uniform')
        self.video_extensions = tuple(ext.lower() for ext in video_extensions)
        self._items: List[int] = []
        self._video_starts = np.zeros(0, np.int64)
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(data_prefix or dict(img_path='')),
                         pipeline=list(pipeline), **kwargs)

    # ----------------------------------------------------------------- loading
    def _make_items(self) -> List[int]:
        # every frame stays in data_list (a positive may be any frame); items are key frames
        positions = np.arange(len(self.data_list)) - self._video_starts
        return [int(i) for i in np.flatnonzero(positions % self.frame_interval == 0)]

    def load_data_list(self) -> List[dict]:
        if self.ann_file:
            videos = self._videos_from_json()
        else:
            videos = self._videos_from_folder(Path(self.data_prefix.get('img_path') or self.data_root))
        frames, starts = [], []
        for video in videos:
            starts += [len(frames)] * len(video)
            frames += video
        self._video_starts = np.asarray(starts, np.int64)
        return frames

    def _videos_from_json(self) -> List[List[dict]]:
        parsed = load_cocovid(self.ann_file, img_prefix=self.data_prefix.get('img_path', ''))
        if not parsed.frames:
            raise ValueError(f'{self.ann_file}: the annotation file lists no images')
        self._metainfo['classes'] = parsed.classes
        videos: List[List[dict]] = []
        for index, frame in enumerate(parsed.frames):
            frame.pop('instances', None)   # contrastive items need no boxes; keep workers light
            if index == 0 or parsed.video_starts[index] != parsed.video_starts[index - 1]:
                videos.append([])
            videos[-1].append(frame)
        return videos

    def _videos_from_folder(self, folder: Path) -> List[List[dict]]:
        looked_for = f'frame folders ({", ".join(IMAGE_EXTENSIONS)}) or videos ({", ".join(self.video_extensions)})'
        if not folder.is_dir():
            raise FileNotFoundError(f'VideoFrameDataset: {str(folder)!r} is not a folder of {looked_for}')
        videos: List[List[dict]] = []
        img_id = 0
        for entry in sorted(folder.iterdir(), key=natural_sort_key):
            if entry.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in entry.iterdir()):
                sources = [dict(img_path=str(path)) for path in list_frame_folder(entry)]
            elif entry.is_file() and entry.suffix.lower() in self.video_extensions:
                sources = [dict(video_path=str(entry))] * self._count_frames(entry)
            else:
                continue
            video = []
            for position, source in enumerate(sources):
                video.append(dict(source, img_id=img_id, video_id=len(videos), frame_id=position,
                                  video_length=len(sources), video_name=entry.stem))
                img_id += 1
            videos.append(video)
        if not videos:
            raise ValueError(f'VideoFrameDataset: {str(folder)!r} holds no {looked_for}')
        return videos

    @staticmethod
    def _count_frames(path: Path) -> int:
        source = open_video(path)
        try:
            count = source.num_frames
        finally:
            source.close()
        if not count:
            raise ValueError(f'VideoFrameDataset: cannot tell how many frames {str(path)!r} has; '
                             'extract its frames into a folder instead')
        return int(count)

    # ----------------------------------------------------------------- access
    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The frame's data info; with ``positive_max_offset``, ``ref_frames`` holds the positive."""
        frame_index = self._items[idx]
        info = self._frame_info(frame_index)
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        if self._positive_sampler is not None:
            start = int(self._video_starts[frame_index])
            length = int(info['video_length'])
            (position,) = self._positive_sampler.sample(frame_index - start, length)
            if start + position == frame_index:
                positive = copy.deepcopy({k: v for k, v in info.items() if k != 'sample_idx'})
            else:
                positive = self._frame_info(start + position)
            info['ref_frames'] = [positive]
        return info

    @force_full_init
    def video_groups(self) -> List[List[int]]:
        """Item indices grouped by video, frames in temporal order."""
        groups: dict = {}
        for item, frame_index in enumerate(self._items):
            groups.setdefault(int(self._video_starts[frame_index]), []).append(item)
        return list(groups.values())

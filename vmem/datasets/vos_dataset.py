"""The base of the video object segmentation datasets: frames streamed for testing, clips for training."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init

from .item_subsets import ItemSubsets

from .vos_clip_sampler import VOSClipSampler


@dataclass
class VOSVideo:
    """What a subclass reads for one video.

    ``frames``: per frame (temporal order) a data info with at least ``img_path``,
    ``height``, ``width`` and the mask source ``LoadVOSAnnotations`` reads
    (``seg_map_path`` or ``instances``). ``visible``: per frame, the ids of the objects
    whose mask is non-empty there. ``object_labels``: class label per object id.
    """

    video_id: int
    name: str
    frames: List[dict]
    visible: List[Tuple[int, ...]]
    object_labels: Dict[int, int] = field(default_factory=dict)


class VOSDataset(ItemSubsets, BaseDataset):
    """Semi-supervised VOS data: one item per frame (``test_mode``) or per clip (training).

    Test mode streams every frame of every video, in order (``video_groups`` feeds
    ``VideoSampler``), so an online model can keep per-video memory and reset it when
    ``video_id`` changes. A frame's data info has ``object_ids``: the objects whose FIRST
    appearance (first non-empty mask) is this frame, i.e. the prompts the model gets there.

    Training yields ``clips_per_video`` items per video (videos where no frame shows an
    object are left out): a key-frame data info (clip frame 0) whose ``ref_frames`` are clip
    frames 1..T-1 in temporal order, every frame with the same ``object_ids`` (see
    ``VOSClipSampler``), for ``ApplyToFrames`` + ``PackVideoInputs``. Clips are drawn with
    Python's ``random``, which mmengine's ``randomness`` seed and PyTorch's dataloader
    workers seed.

    Every frame info carries ``video_id``, ``video_name``, ``frame_id`` (0-based position in
    the video), ``video_length``, ``img_id`` and ``object_labels`` (aligned with
    ``object_ids``). Subclasses implement ``load_videos``.
    """

    METAINFO: dict = dict(classes=('object',))

    def __init__(self, *, data_root: str = '', ann_file: str = '', metainfo: Optional[dict] = None,
                 data_prefix: Optional[dict] = None, test_mode: bool = False,
                 pipeline: Sequence = (), clip_length: int = 8, max_stride: int = 1,
                 max_objects: int = 3, clips_per_video: int = 1,
                 indices: Optional[Union[int, Sequence[int]]] = None, serialize_data: bool = True,
                 lazy_init: bool = False, max_refetch: int = 1000):
        self.clip_sampler = VOSClipSampler(clip_length=clip_length, max_stride=max_stride,
                                           max_objects=max_objects)
        if not isinstance(clips_per_video, int) or clips_per_video < 1:
            raise ValueError(f'clips_per_video must be a positive int, got {clips_per_video!r}')
        self.clips_per_video = clips_per_video
        self._items: List[int] = []  # frame index (test) or video index (train) per item
        self._video_starts = np.zeros(0, np.int64)
        self._video_lengths = np.zeros(0, np.int64)
        self._visible_ids = np.zeros(0, np.int64)  # flat; frame f's ids are [offsets[f]:offsets[f+1]]
        self._visible_offsets = np.zeros(1, np.int64)
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=dict(data_prefix or dict(img_path='')), filter_cfg=None,
                         indices=indices, serialize_data=serialize_data, pipeline=list(pipeline),
                         test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    # ----------------------------------------------------------------- subclass API
    def load_videos(self) -> List[VOSVideo]:
        raise NotImplementedError(f'{type(self).__name__} must implement load_videos()')

    # ----------------------------------------------------------------- loading
    def load_data_list(self) -> List[dict]:
        videos = self.load_videos()
        frames: List[dict] = []
        starts, lengths, visible = [], [], []
        for video in videos:
            if len(video.visible) != len(video.frames):
                raise ValueError(f'video {video.name!r}: {len(video.frames)} frames but '
                                 f'{len(video.visible)} visibility entries')
            prompts = self._first_appearances(video.visible)
            starts.append(len(frames))
            lengths.append(len(video.frames))
            for position, info in enumerate(video.frames):
                info = dict(info, video_id=int(video.video_id), video_name=video.name,
                            frame_id=position, video_length=len(video.frames))
                info.setdefault('img_id', len(frames))
                if self.test_mode:
                    info['object_ids'] = prompts.get(position, [])
                    info['object_labels'] = [video.object_labels.get(i, 0) for i in info['object_ids']]
                else:  # a clip picks its objects later and looks their labels up here
                    info['all_object_labels'] = dict(video.object_labels)
                frames.append(info)
                visible.append(tuple(sorted(video.visible[position])))
        self._video_starts = np.asarray(starts, np.int64)
        self._video_lengths = np.asarray(lengths, np.int64)
        self._visible_offsets = np.cumsum([0] + [len(ids) for ids in visible]).astype(np.int64)
        self._visible_ids = np.asarray([i for ids in visible for i in ids], np.int64)
        return frames

    @staticmethod
    def _first_appearances(visible: Sequence[Sequence[int]]) -> Dict[int, List[int]]:
        """frame position -> ids of the objects first visible there (sorted)."""
        seen: set = set()
        prompts: Dict[int, List[int]] = {}
        for position, ids in enumerate(visible):
            new = sorted(set(ids) - seen)
            if new:
                prompts[position] = new
                seen.update(new)
        return prompts

    def _make_items(self) -> List[int]:
        if self.test_mode:
            return list(range(int(self._video_lengths.sum())))
        usable = [v for v in range(len(self._video_starts)) if any(self._video_visible(v))]
        skipped = len(self._video_starts) - len(usable)
        if skipped:
            warnings.warn(f'{type(self).__name__}: {skipped} video(s) show no object in any frame '
                          'and are left out of training')
        if not usable:
            raise ValueError(f'{type(self).__name__}: no video shows an object; nothing to train on')
        return [v for v in usable for _ in range(self.clips_per_video)]

    def _video_visible(self, video: int) -> List[Tuple[int, ...]]:
        start, length = int(self._video_starts[video]), int(self._video_lengths[video])
        offsets = self._visible_offsets[start:start + length + 1]
        flat = self._visible_ids[offsets[0]:offsets[-1]].tolist()
        base = int(offsets[0])
        return [tuple(flat[int(a) - base:int(b) - base]) for a, b in zip(offsets[:-1], offsets[1:])]

    # ----------------------------------------------------------------- access
    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """A frame (test mode) or a clip: key frame with ``ref_frames`` (training, random)."""
        sample_idx = idx if idx >= 0 else len(self) + idx
        if self.test_mode:
            info = self._frame_info(self._items[idx])
            info['sample_idx'] = sample_idx
            return info
        video = self._items[idx]
        positions, object_ids = self.clip_sampler.sample(self._video_visible(video))
        start = int(self._video_starts[video])
        frames = []
        for position in positions:
            frame = self._frame_info(start + position)
            labels = frame.pop('all_object_labels')
            frame['object_ids'] = list(object_ids)
            frame['object_labels'] = [labels.get(i, 0) for i in object_ids]
            frames.append(frame)
        key = frames[0]
        key['ref_frames'] = frames[1:]
        key['sample_idx'] = sample_idx
        return key

    @force_full_init
    def video_groups(self) -> List[List[int]]:
        """Item indices grouped by video, frames in temporal order (test mode); in training
        every clip is its own group."""
        if not self.test_mode:
            return [[i] for i in range(len(self))]
        groups: Dict[int, List[int]] = {}
        video_of_frame = np.searchsorted(self._video_starts, np.asarray(self._items), side='right') - 1
        for item, video in enumerate(video_of_frame.tolist()):
            groups.setdefault(video, []).append(item)
        return list(groups.values())

    @force_full_init
    def video_object_ids(self, video_index: int) -> List[int]:
        """Ids of every object visible somewhere in the ``video_index``-th video (dataset order)."""
        return sorted({i for ids in self._video_visible(video_index) for i in ids})

    @property
    def num_videos(self) -> int:
        return len(self._video_starts)

"""The CocoVID dataset: video frames (and DET images) with boxes, for training and testing."""
from __future__ import annotations

import copy
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init

from vmem.registry import DATASETS

from .cocovid_parser import load_cocovid
from .item_subsets import ItemSubsets
from .ref_frame_sampler import RefFrameSampler

_FILTER_KEYS = {'filter_empty_gt', 'min_size'}
_KEY_IMG_SAMPLER_KEYS = {'interval', 'vid_train_frames_only'}


@DATASETS.register_module()
class CocoVideoDataset(ItemSubsets, BaseDataset):
    """Frames of a CocoVID json (the mmtracking / ImageNet VID layout), one item per key frame.

    Each item's data info is one frame (``img_id``, ``img_path``, ``video_id``, ``frame_id``,
    ``video_length``, ``instances`` with xyxy ``bbox``, ``bbox_label``, ``ignore_flag``,
    ``instance_id``, ``mask``...). With ``ref_img_sampler`` (see ``RefFrameSampler``) it also
    holds ``ref_frames``: data infos of the chosen reference frames, which the pipeline
    transforms through ``ApplyToFrames`` and packs with ``PackVideoInputs``.

    - ``load_as_video=False`` treats every image as a one-frame video (its references are
      copies of itself), as do images without a ``video_id`` (COCO / ImageNet DET).
    - ``key_img_sampler=dict(interval=k)`` makes only frames at positions 0, k, 2k, ... key
      frames; ``vid_train_frames_only=True`` keeps only images flagged ``is_vid_train_frame``
      (ImageNet VID's 15-frames-per-video training subset; ignored in ``test_mode``).
      Reference frames are still drawn from every frame of the video.
    - ``filter_cfg=dict(filter_empty_gt=True, min_size=32)`` drops key frames without
      (non-ignored) boxes or smaller than ``min_size``; not applied in ``test_mode``.
    - ``metainfo=dict(classes=(...))`` selects and orders the classes by name; annotations of
      other categories are dropped. Without it all the file's categories are used, by id.
    """
    ITEMS = 'valid_data_indices'   # (ItemSubsets) the key frames kept

    METAINFO = dict(classes=None)

    def __init__(self, *, ann_file: str = '', metainfo: Optional[dict] = None, data_root: str = '',
                 data_prefix: Optional[dict] = None, filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None, serialize_data: bool = True,
                 pipeline: Sequence = (), test_mode: bool = False, lazy_init: bool = False,
                 max_refetch: int = 1000, load_as_video: bool = True,
                 key_img_sampler: Optional[dict] = None, ref_img_sampler: Optional[dict] = None):
        filter_cfg = dict(filter_cfg or {})
        unknown = set(filter_cfg) - _FILTER_KEYS
        if unknown:
            raise ValueError(f'unknown filter_cfg keys {sorted(unknown)}; expected {sorted(_FILTER_KEYS)}')
        key_img_sampler = dict(key_img_sampler or {})
        unknown = set(key_img_sampler) - _KEY_IMG_SAMPLER_KEYS
        if unknown:
            raise ValueError(f'unknown key_img_sampler keys {sorted(unknown)}; '
                             f'expected {sorted(_KEY_IMG_SAMPLER_KEYS)}')
        self.key_img_interval = int(key_img_sampler.get('interval', 1))
        if self.key_img_interval < 1:
            raise ValueError(f'key_img_sampler interval must be >= 1, got {self.key_img_interval}')
        self.vid_train_frames_only = bool(key_img_sampler.get('vid_train_frames_only', False))
        self.ref_img_sampler = None if ref_img_sampler is None else RefFrameSampler(**ref_img_sampler)
        self.load_as_video = load_as_video
        metainfo = dict(metainfo or {})
        if metainfo.get('classes') is not None:
            # a tuple, so that a list in one config and a tuple in another still compare equal
            # in ConcatDataset's metainfo check
            metainfo['classes'] = tuple(metainfo['classes'])
        self.valid_data_indices: List[int] = []
        self._video_starts = np.zeros(0, np.int64)
        self._positions = np.zeros(0, np.int64)
        self.annotation_issues: dict = {}
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=dict(data_prefix or dict(img_path='')), filter_cfg=filter_cfg,
                         indices=indices, serialize_data=serialize_data, pipeline=list(pipeline),
                         test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    # ----------------------------------------------------------------- loading
    def load_data_list(self) -> List[dict]:
        parsed = load_cocovid(self.ann_file, classes=self._metainfo.get('classes'),
                              img_prefix=self.data_prefix.get('img_path', ''))
        if not parsed.frames:
            raise ValueError(f'{self.ann_file}: the annotation file lists no images')
        self._metainfo['classes'] = parsed.classes
        self._video_starts = np.asarray(parsed.video_starts, np.int64)
        self._positions = np.arange(len(parsed.frames), dtype=np.int64) - self._video_starts
        if not self.load_as_video:
            self._video_starts = np.arange(len(parsed.frames), dtype=np.int64)
            for frame in parsed.frames:
                frame['is_video_data'] = False
        self.annotation_issues = dict(parsed.issues)
        return parsed.frames

    def _make_items(self) -> List[int]:
        if self.vid_train_frames_only and not self.test_mode \
                and not any('is_vid_train_frame' in frame for frame in self.data_list):
            raise ValueError(f'{self.ann_file}: key_img_sampler asks for vid_train_frames_only '
                             "but no image has an 'is_vid_train_frame' flag")
        min_size = self.filter_cfg.get('min_size', 0)
        filter_empty = self.filter_cfg.get('filter_empty_gt', False)
        keys = []
        for index, frame in enumerate(self.data_list):
            if self._positions[index] % self.key_img_interval:
                continue
            if not self.test_mode:
                if self.vid_train_frames_only and not frame.get('is_vid_train_frame', False):
                    continue
                if filter_empty and not any(not inst['ignore_flag'] for inst in frame['instances']):
                    continue
                if min(frame['width'], frame['height']) < min_size:
                    continue
            keys.append(index)
        return keys

    # ----------------------------------------------------------------- access
    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The key frame's data info, with ``ref_frames`` when a ``ref_img_sampler`` is set
        (randomly drawn for the training methods)."""
        frame_index = self.valid_data_indices[idx]
        info = self._frame_info(frame_index)
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        if self.ref_img_sampler is not None:
            info.update(self.ref_img_sampler.extra_metainfo())
            start = int(self._video_starts[frame_index])
            length = info['video_length'] if self.load_as_video else 1
            positions = self.ref_img_sampler.sample(frame_index - start, length)
            key_copy = {k: v for k, v in info.items() if k != 'sample_idx'}
            info['ref_frames'] = [copy.deepcopy(key_copy) if start + p == frame_index
                                  else self._frame_info(start + p) for p in positions]
        return info

    @force_full_init
    def video_groups(self) -> List[List[int]]:
        """Item indices grouped by video, in video order, frames in temporal order."""
        groups: dict = {}
        for item, frame_index in enumerate(self.valid_data_indices):
            groups.setdefault(int(self._video_starts[frame_index]), []).append(item)
        return list(groups.values())

    @force_full_init
    def get_cat_ids(self, idx: int) -> List[int]:
        """Labels of the key frame's instances (used by e.g. ``ClassBalancedDataset``)."""
        info = self._frame_info(self.valid_data_indices[idx])
        return [instance['bbox_label'] for instance in info['instances']]

"""Object crops from a CocoVID json with boxes: one item per annotated object.

Self-supervised pretraining on crops learns object-level features from a detection data
set without using its labels; the same crops with their labels then measure those
features (k-NN, linear probe).
"""
from __future__ import annotations

import math
import random
from typing import Dict, List, Optional, Sequence

from mmengine.dataset import BaseDataset, force_full_init

from vmem.registry import DATASETS

from .cocovid_parser import load_cocovid


def context_box(box: Sequence[float], *, context: float, width: int, height: int) -> List[int]:
    """``box`` (xyxy) grown by ``context`` times its size on every side, clipped to the image,
    as whole pixels: the smallest integer box that holds the grown box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    pad_x, pad_y = context * (x2 - x1), context * (y2 - y1)
    return [max(0, math.floor(x1 - pad_x)), max(0, math.floor(y1 - pad_y)),
            min(width, math.ceil(x2 + pad_x)), min(height, math.ceil(y2 + pad_y))]


@DATASETS.register_module()
class ObjectCropDataset(BaseDataset):
    """Annotated objects of a CocoVID json (e.g. SynthVID) as crop items.

    Each item is one (non-crowd) annotation on a frame at position 0, n, 2n, ... of its
    video (``frame_interval=n``) whose box's shorter side is at least ``min_size`` pixels:
    ``img_path`` (the frame), ``height``/``width``, ``img_id``, ``video_id``, ``frame_id``,
    ``bbox`` (the box, xyxy), ``crop_box`` (the box grown by ``context`` of its width/height
    on each side and clipped to the frame, in whole pixels), ``gt_label`` (0-based index into
    the json's categories sorted by id, as ``CocoVideoDataset`` labels them) and
    ``instance_id`` (-1 when the json has none). ``metainfo['classes']`` names the labels.
    Load with ``LoadFrame`` then ``CropObject``.

    Args:
        ann_file: the json; relative to ``data_root`` unless absolute.
        data_root: root folder of the data.
        data_prefix: ``dict(img_path=...)``, the folder the json's ``file_name`` is relative to.
        pipeline: the transforms.
        frame_interval: take objects from every n-th frame of a video; consecutive frames of
            a video hold nearly the same crops, so evaluation can thin them out.
        min_size: drop boxes whose shorter side is below this many pixels (too small to
            carry features).
        context: fraction of the box added on each side: a little background helps
            recognition, as in most crop classifiers.
        max_per_class: keep at most this many objects per class, drawn with ``seed``
            (balances a long-tailed set, or makes a quick subset).
        seed: seed of that draw.
        positive_max_offset: temporal positives: each item also holds ``ref_frames``, a list
            with one other crop of the same object (same video and ``instance_id``) from a
            frame at most this many frames away (any frame, not only every n-th), drawn with
            Python's ``random`` (seeded per worker by mmengine). Objects seen in one frame
            only, or without instance ids, are their own positive. The second contrastive
            view then shows the object at another moment: another pose, position and
            degradation, which augmentation alone does not make. Load with
            ``ApplyToFrames(transforms=[LoadFrame, CropObject])``. None: no positives.
        **kwargs: passed to mmengine's ``BaseDataset`` (``indices``, ``lazy_init``, ...).

    A json without categories or annotations, or with no object left after filtering,
    raises ``ValueError`` naming the file.
    """

    METAINFO = dict(classes=None)

    def __init__(self, *, ann_file: str, data_root: str = '', data_prefix: Optional[dict] = None,
                 pipeline: Sequence = (), frame_interval: int = 1, min_size: float = 8,
                 context: float = 0.1, max_per_class: Optional[int] = None, seed: int = 0,
                 positive_max_offset: Optional[int] = None, **kwargs) -> None:
        if isinstance(frame_interval, bool) or not isinstance(frame_interval, int) or frame_interval < 1:
            raise ValueError(f'frame_interval must be a positive int, got {frame_interval!r}')
        if min_size < 0:
            raise ValueError(f'min_size must be >= 0, got {min_size!r}')
        if context < 0:
            raise ValueError(f'context must be >= 0, got {context!r}')
        if max_per_class is not None and (isinstance(max_per_class, bool) or not isinstance(max_per_class, int)
                                          or max_per_class < 1):
            raise ValueError(f'max_per_class must be a positive int or None, got {max_per_class!r}')
        if positive_max_offset is not None and (isinstance(positive_max_offset, bool)
                                                or not isinstance(positive_max_offset, int)
                                                or positive_max_offset < 1):
            raise ValueError(f'positive_max_offset must be a positive int or None, got {positive_max_offset!r}')
        if not ann_file:
            raise ValueError('ObjectCropDataset needs an ann_file (a CocoVID json with boxes)')
        self.frame_interval = frame_interval
        self.min_size = min_size
        self.context = context
        self.max_per_class = max_per_class
        self.seed = seed
        self.positive_max_offset = positive_max_offset
        # per object (video, instance id): its crops in frame order, for temporal positives;
        # kept outside data_list, which mmengine serialises item by item
        self._tracks: List[List[dict]] = []
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=dict(data_prefix or dict(img_path='')),
                         pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        parsed = load_cocovid(self.ann_file, img_prefix=self.data_prefix.get('img_path', ''))
        for key, empty in (('categories', not parsed.classes),
                           ('annotations', not any(frame['instances'] for frame in parsed.frames))):
            if empty:
                raise ValueError(f'{self.ann_file}: no "{key}"; ObjectCropDataset needs a json '
                                 'with categorised boxes')
        self._metainfo['classes'] = parsed.classes
        items, tracks, track_of = [], [], {}
        for index, frame in enumerate(parsed.frames):
            key_frame = (index - parsed.video_starts[index]) % self.frame_interval == 0
            if not key_frame and self.positive_max_offset is None:
                continue
            for instance in frame['instances']:
                for item in self._item(frame, instance):
                    if item['instance_id'] >= 0:
                        number = track_of.setdefault((item['video_id'], item['instance_id']), len(tracks))
                        if number == len(tracks):
                            tracks.append([])
                        item['track'] = (number, len(tracks[number]))
                        tracks[number].append(item)
                    if key_frame:
                        items.append(item)
        self._tracks = tracks
        if not items:
            raise ValueError(f'{self.ann_file}: no object is left with frame_interval='
                             f'{self.frame_interval} and min_size={self.min_size}')
        if self.max_per_class is not None:
            items = self._cap_per_class(items)
        return items

    def _item(self, frame: dict, instance: dict) -> List[dict]:
        x1, y1, x2, y2 = instance['bbox']
        if instance['ignore_flag'] or min(x2 - x1, y2 - y1) < self.min_size:
            return []
        crop_box = context_box(instance['bbox'], context=self.context,
                               width=frame['width'], height=frame['height'])
        return [dict(img_path=frame['img_path'], img_id=frame['img_id'], height=frame['height'],
                     width=frame['width'], video_id=frame['video_id'], frame_id=frame['frame_id'],
                     bbox=list(instance['bbox']), crop_box=crop_box, gt_label=int(instance['bbox_label']),
                     instance_id=int(instance.get('instance_id', -1)))]

    def _cap_per_class(self, items: List[dict]) -> List[dict]:
        by_label: Dict[int, List[int]] = {}
        for index, item in enumerate(items):
            by_label.setdefault(item['gt_label'], []).append(index)
        rng = random.Random(self.seed)
        kept = []
        for label in sorted(by_label):
            indices = by_label[label]
            kept += indices if len(indices) <= self.max_per_class else rng.sample(indices, self.max_per_class)
        # back in file order, so items stay grouped by video and frame
        return [items[index] for index in sorted(kept)]

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The item; with ``positive_max_offset``, ``ref_frames`` holds its temporal positive."""
        info = super().get_data_info(idx)
        if self.positive_max_offset is not None:
            info['ref_frames'] = [self._temporal_positive(info)]
        return info

    def _temporal_positive(self, info: dict) -> dict:
        if 'track' not in info:
            return {k: v for k, v in info.items() if k != 'sample_idx'}
        track_index, position = info['track']
        track = self._tracks[track_index]
        frame_id = info['frame_id']
        nearby = [crop for crop in track
                  if crop['frame_id'] != frame_id and abs(crop['frame_id'] - frame_id) <= self.positive_max_offset]
        return dict(random.choice(nearby) if nearby else track[position])

    def get_cat_ids(self, idx: int) -> List[int]:
        """The item's label (used by e.g. ``ClassBalancedDataset``)."""
        return [self.get_data_info(idx)['gt_label']]

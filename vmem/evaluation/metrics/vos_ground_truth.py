"""Ground truth for ``VOSMetric`` at original resolution: a DAVIS folder or a CocoVID json.

Both expose sequences by a key read from a data sample's meta info (``video_name`` for
DAVIS, ``video_id`` for CocoVID), each with its frame count, the objects visible in each
frame and per-frame masks. Frames are indexed by their 0-based position in the video, the
``frame_id`` the VOS datasets give.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import pycocotools.mask as mask_utils

from vmem.datasets.cocovid_json import read_cocovid_json
from vmem.datasets.davis_layout import (VOID_LABEL, davis_split_videos, davis_video_files,
                                        object_ids_in, read_label_map)


@dataclass
class SequenceTruth:
    """What the metric needs of a sequence before looking at its frames."""

    key: object
    name: str
    num_frames: int
    shape: Tuple[int, int]
    visible: List[Tuple[int, ...]]  # per frame: ids of the objects with a non-empty mask

    @property
    def first_frames(self) -> Dict[int, int]:
        """object id -> the frame where it is first visible (its prompt frame)."""
        first: Dict[int, int] = {}
        for frame, ids in enumerate(self.visible):
            for object_id in ids:
                first.setdefault(object_id, frame)
        return dict(sorted(first.items()))


@dataclass
class FrameTruth:
    shape: Tuple[int, int]
    masks: Dict[int, np.ndarray]   # object id -> bool [H, W] (only objects present here)
    void: Optional[np.ndarray]     # bool [H, W] or None


class DavisGroundTruth:
    """Sequences of a DAVIS split; keyed by ``video_name``.

    A sequence's label maps are read once, when it is first asked for, and kept until
    another sequence is asked for (test frames arrive video by video).
    """

    key_field = 'video_name'

    def __init__(self, *, data_root: str, split: str, resolution: str = '480p'):
        self.source = f'DAVIS {split} split in {data_root}'
        self.data_root, self.resolution = data_root, resolution
        self.names = davis_split_videos(data_root, split)
        self._sequences: Dict[str, SequenceTruth] = {}
        self._cached: Tuple[Optional[str], Optional[np.ndarray]] = (None, None)

    def keys(self) -> List[str]:
        return list(self.names)

    def key_of(self, sample: Mapping, where: str) -> str:
        name = sample.get('video_name')
        if name is None:
            raise ValueError(f'{where} has no metainfo "video_name", which {self.source} needs')
        name = str(name)
        if name not in self.names:
            raise ValueError(f'{where}: video {name!r} is not in the {self.source}')
        return name

    def _label_maps(self, name: str) -> np.ndarray:
        if self._cached[0] != name:
            files = davis_video_files(self.data_root, self.resolution, name)
            maps = []
            for position, path in enumerate(files.masks):
                if not files.has_mask(position):
                    raise FileNotFoundError(f'DAVIS annotation not found: {path} (frame {position} '
                                            f'of video {name!r}); the metric needs every frame annotated')
                maps.append(read_label_map(path))
            shapes = {m.shape for m in maps}
            if len(shapes) > 1:
                raise ValueError(f'annotations of DAVIS video {name!r} differ in size: {sorted(shapes)}')
            self._cached = (name, np.stack(maps))
        return self._cached[1]

    def sequence(self, key: str) -> SequenceTruth:
        if key not in self._sequences:
            maps = self._label_maps(key)
            self._sequences[key] = SequenceTruth(
                key=key, name=key, num_frames=len(maps), shape=tuple(maps.shape[1:]),
                visible=[object_ids_in(m) for m in maps])
        return self._sequences[key]

    def frame(self, key: str, position: int, object_ids: List[int]) -> FrameTruth:
        label_map = self._label_maps(key)[position]
        return FrameTruth(shape=tuple(label_map.shape), masks={i: label_map == i for i in object_ids},
                          void=label_map == VOID_LABEL)


class CocoVidGroundTruth:
    """Sequences of a CocoVID json with instance masks; keyed by ``video_id``.

    Object id = ``instance_id``. ``iscrowd``/``ignore`` annotations are void regions.
    """

    key_field = 'video_id'

    def __init__(self, *, ann_file: str):
        self.source = ann_file
        content = read_cocovid_json(ann_file)
        frames_of: Dict[object, List[dict]] = {}
        for image in content['images']:
            if image.get('video_id') is None or image.get('frame_id') is None:
                raise ValueError(f"{ann_file}: image id {image.get('id')} has no video_id/frame_id; "
                                 'VOS evaluation needs video frames')
            frames_of.setdefault(image['video_id'], []).append(image)
        self._frames = {video: sorted(images, key=lambda image: image['frame_id'])
                        for video, images in frames_of.items()}
        self._annotations: Dict[object, List[dict]] = {}
        for index, ann in enumerate(content['annotations']):
            self._annotations.setdefault(ann.get('image_id'), []).append(ann)
            crowd = ann.get('iscrowd') or ann.get('ignore')
            if not crowd and ann.get('instance_id') is None:
                raise ValueError(f"{ann_file}: annotation id={ann.get('id', f'#{index}')} has no "
                                 'instance_id, which VOS evaluation needs')
        names = {video['id']: video.get('name') for video in content.get('videos') or []
                 if isinstance(video, dict) and 'id' in video}
        self._names = {video: str(names.get(video) or f'video_{video}') for video in self._frames}
        self._sequences: Dict[object, SequenceTruth] = {}

    def keys(self) -> List[object]:
        return list(self._frames)

    def key_of(self, sample: Mapping, where: str) -> object:
        video_id = sample.get('video_id')
        if video_id is None:
            raise ValueError(f'{where} has no metainfo "video_id", which {self.source} needs')
        video_id = int(video_id)
        if video_id not in self._frames:
            raise ValueError(f'{where}: video_id {video_id} is not a video of {self.source}')
        return video_id

    def _objects(self, image: dict) -> Tuple[Dict[int, dict], List[dict]]:
        objects, crowds = {}, []
        for ann in self._annotations.get(image['id'], []):
            if ann.get('iscrowd') or ann.get('ignore'):
                crowds.append(ann)
            elif ann.get('segmentation'):
                objects[int(ann['instance_id'])] = ann['segmentation']
        return objects, crowds

    @staticmethod
    def _rle(segmentation, image: dict) -> dict:
        height, width = int(image['height']), int(image['width'])
        if isinstance(segmentation, list):
            return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        if isinstance(segmentation.get('counts'), list):
            return mask_utils.frPyObjects(segmentation, height, width)
        return segmentation

    def _decode(self, segmentation, image: dict) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)  # pycocotools on numpy 2
            return mask_utils.decode(self._rle(segmentation, image)).astype(bool)

    def _area(self, segmentation, image: dict) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            return int(mask_utils.area(self._rle(segmentation, image)))

    def sequence(self, key: object) -> SequenceTruth:
        if key not in self._sequences:
            images = self._frames[key]
            visible = []
            for image in images:
                objects, _ = self._objects(image)
                visible.append(tuple(sorted(i for i, seg in objects.items() if self._area(seg, image) > 0)))
            self._sequences[key] = SequenceTruth(
                key=key, name=self._names[key], num_frames=len(images),
                shape=(int(images[0]['height']), int(images[0]['width'])), visible=visible)
        return self._sequences[key]

    def frame(self, key: object, position: int, object_ids: List[int]) -> FrameTruth:
        image = self._frames[key][position]
        objects, crowds = self._objects(image)
        masks = {i: self._decode(objects[i], image) for i in object_ids if i in objects}
        void = None
        for crowd in crowds:
            region = self._decode(crowd['segmentation'], image) if crowd.get('segmentation') else None
            if region is not None:
                void = region if void is None else void | region
        return FrameTruth(shape=(int(image['height']), int(image['width'])), masks=masks, void=void)

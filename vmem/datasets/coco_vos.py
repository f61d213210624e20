"""Video object segmentation data from a CocoVID json with instance masks (SynthVID)."""
from __future__ import annotations

import warnings
from typing import Dict, List, Optional, Sequence, Union

import pycocotools.mask as mask_utils

from vmem.registry import DATASETS

from .cocovid_parser import load_cocovid
from .vos_dataset import VOSDataset, VOSVideo


_INSTANCE_KEYS = ('instance_id', 'bbox_label', 'mask')


def segmentation_area(segmentation, height: int, width: int) -> int:
    """Pixel count of a COCO segmentation (compressed or uncompressed RLE, or polygons)."""
    with warnings.catch_warnings():
        # pycocotools built for numpy 1 warns about ``copy=False``; harmless.
        warnings.simplefilter('ignore', DeprecationWarning)
        if isinstance(segmentation, dict):
            if isinstance(segmentation.get('counts'), list):
                segmentation = mask_utils.frPyObjects(segmentation, height, width)
            return int(mask_utils.area(segmentation))
        if isinstance(segmentation, list):
            if not segmentation:
                return 0
            return int(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))))
    raise TypeError('segmentation must be an RLE dict or a list of polygons, '
                    f'got {type(segmentation).__name__}')


@DATASETS.register_module()
class CocoVOSDataset(VOSDataset):
    """The videos of a CocoVID json whose annotations carry ``instance_id`` and a
    ``segmentation`` (SynthVID's ``synthvid_{train,val,test}.json``).

    Object id = ``instance_id``; an object is visible in a frame where its segmentation is
    non-empty (SynthVID objects can enter after frame 0 and leave again), so its prompt is
    the first such frame. Annotations flagged ``iscrowd``/``ignore`` are never objects.
    ``video_id`` and ``img_id`` are the json's ids; ``frame_id`` is the 0-based position in
    the video (frames ordered by the json's ``frame_id``). ``metainfo=dict(classes=...)``
    keeps only those classes (as ``CocoVideoDataset``); labels index ``classes``.
    """

    METAINFO = dict(classes=None)

    def __init__(self, *, ann_file: str, data_root: str = '', data_prefix: Optional[dict] = None,
                 metainfo: Optional[dict] = None, test_mode: bool = False, pipeline: Sequence = (),
                 clip_length: int = 8, max_stride: int = 1, max_objects: int = 3,
                 clips_per_video: int = 1, indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True, lazy_init: bool = False, max_refetch: int = 1000):
        metainfo = dict(metainfo or {})
        if metainfo.get('classes') is not None:
            metainfo['classes'] = tuple(metainfo['classes'])
        super().__init__(data_root=data_root, ann_file=ann_file, metainfo=metainfo,
                         data_prefix=data_prefix, test_mode=test_mode, pipeline=pipeline,
                         clip_length=clip_length, max_stride=max_stride, max_objects=max_objects,
                         clips_per_video=clips_per_video, indices=indices,
                         serialize_data=serialize_data, lazy_init=lazy_init, max_refetch=max_refetch)

    def load_videos(self) -> List[VOSVideo]:
        parsed = load_cocovid(self.ann_file, classes=self._metainfo.get('classes'),
                              img_prefix=self.data_prefix.get('img_path', ''))
        if not parsed.frames:
            raise ValueError(f'{self.ann_file}: the annotation file lists no images')
        self._metainfo['classes'] = parsed.classes
        by_start: Dict[int, List[dict]] = {}
        for frame, start in zip(parsed.frames, parsed.video_starts):
            if frame['video_id'] is None:
                raise ValueError(f"{self.ann_file}: image id {frame['img_id']} has no video_id; "
                                 'CocoVOSDataset needs video frames')
            by_start.setdefault(start, []).append(frame)
        return [self._video(frames) for frames in by_start.values()]

    def _video(self, frames: List[dict]) -> VOSVideo:
        visible, labels = [], {}
        for frame in frames:
            ids = []
            for instance in frame['instances']:
                if instance['ignore_flag']:
                    continue
                if instance['instance_id'] < 0:
                    raise ValueError(f"{self.ann_file}: an annotation of image id {frame['img_id']} "
                                     "has no instance_id, which video object segmentation needs")
                if instance.get('mask') is None:
                    continue
                if segmentation_area(instance['mask'], frame['height'], frame['width']) > 0:
                    ids.append(instance['instance_id'])
                    labels.setdefault(instance['instance_id'], instance['bbox_label'])
            visible.append(tuple(ids))
        first = frames[0]
        name = first.get('video_name') or f"video_{first['video_id']}"
        infos = [{'img_id': frame['img_id'], 'img_path': frame['img_path'], 'height': frame['height'],
                  'width': frame['width'], 'seg_map_path': None,
                  'instances': [{key: instance.get(key) for key in _INSTANCE_KEYS}
                                for instance in frame['instances'] if not instance['ignore_flag']]}
                 for frame in frames]
        return VOSVideo(video_id=first['video_id'], name=str(name), frames=infos, visible=visible,
                        object_labels=labels)

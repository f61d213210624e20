"""Reading a CocoVID annotation file into per-frame data infos, checking it as we go."""
from __future__ import annotations

import math
import os.path as osp
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .camera_traps import camera_traps_as_cocovid, is_camera_traps_json, parse_timestamp
from .cocovid_json import read_cocovid_json

# Optional per-image / per-video / per-annotation fields carried into the data infos.
_IMAGE_EXTRAS = ('datetime', 'degraded', 'is_vid_train_frame', 'camera', 'seq_id')
_VIDEO_EXTRAS = {'name': 'video_name', 'camera': 'camera', 'fps': 'fps',
                 'start_datetime': 'video_start_datetime'}
_INSTANCE_EXTRAS = ('occluded', 'degraded', 'degradation')


@dataclass
class CocoVidFrames:
    """Frames ordered video by video (then frame_id); one-frame "videos" for DET images."""
    frames: List[dict]
    video_starts: List[int]  # per frame: index in ``frames`` of its video's first frame
    classes: Tuple[str, ...]
    issues: Counter = field(default_factory=Counter)


def _require(record: dict, keys: Sequence[str], ann_file: str, what: str, index: int) -> None:
    if not isinstance(record, dict):
        raise ValueError(f'{ann_file}: {what} #{index} is not a JSON object: {record!r}')
    missing = [key for key in keys if key not in record]
    if missing:
        name = f"{what} id {record['id']}" if 'id' in record else f'{what} #{index}'
        raise ValueError(f'{ann_file}: {name} lacks required key(s) {missing}')


def _resolve_classes(categories: list, classes: Optional[Sequence[str]],
                     ann_file: str) -> Tuple[Tuple[str, ...], Dict[int, Optional[int]]]:
    """Class names and a map category id -> label (None for a category not among ``classes``)."""
    names_by_id: Dict[int, str] = {}
    for index, category in enumerate(categories):
        _require(category, ('id', 'name'), ann_file, 'category', index)
        names_by_id[category['id']] = category['name']
    if classes is None:
        classes = tuple(names_by_id[cat_id] for cat_id in sorted(names_by_id))
    classes = tuple(classes)
    if len(set(classes)) != len(classes):
        raise ValueError(f'classes must be distinct, got {classes}')
    label_of_name = {name: label for label, name in enumerate(classes)}
    absent = [name for name in classes if name not in names_by_id.values()]
    if absent:
        warnings.warn(f'{ann_file}: classes {absent} have no category in this file')
    return classes, {cat_id: label_of_name.get(name) for cat_id, name in names_by_id.items()}


def _clip_box(bbox, width: int, height: int) -> Tuple[Optional[list], bool]:
    """xywh -> clipped xyxy (None when nothing of positive size is left), and whether clipped."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        raise ValueError(f'expected four numbers, got {bbox!r}')
    x, y, w, h = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return None, False
    x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        return None, False
    return [x1, y1, x2, y2], (x1, y1, x2, y2) != (x, y, x + w, y + h)


def _parse_instances(annotations: list, images_by_id: dict, label_of_category: dict,
                     ann_file: str, issues: Counter, examples: dict) -> Dict[int, List[dict]]:
    instances_by_image: Dict[int, List[dict]] = {}
    for index, ann in enumerate(annotations):
        _require(ann, ('image_id', 'category_id', 'bbox'), ann_file, 'annotation', index)
        name = f"annotation id {ann.get('id', f'#{index}')}"
        image = images_by_id.get(ann['image_id'])
        if image is None:
            raise ValueError(f"{ann_file}: {name} refers to image id {ann['image_id']}, "
                             'which is not in images')
        if ann['category_id'] not in label_of_category:
            raise ValueError(f"{ann_file}: {name} has category_id {ann['category_id']}, "
                             f'which is not in categories {sorted(label_of_category)}')
        label = label_of_category[ann['category_id']]
        if label is None:
            issues['dropped_other_classes'] += 1
            continue
        bbox = ann['bbox']
        try:
            box, clipped = _clip_box(bbox, image['width'], image['height'])
        except (TypeError, ValueError):
            raise ValueError(f'{ann_file}: {name} has bbox {bbox!r}; expected [x, y, w, h] numbers') from None
        if box is None:
            issues['skipped_empty_boxes'] += 1
            examples.setdefault('skipped_empty_boxes', name)
            continue
        if clipped:
            issues['clipped_boxes'] += 1
            examples.setdefault('clipped_boxes', name)
        instance = {'bbox': box, 'bbox_label': label,
                    'ignore_flag': int(bool(ann.get('iscrowd', False) or ann.get('ignore', False))),
                    'instance_id': int(ann['instance_id']) if ann.get('instance_id') is not None else -1}
        if ann.get('segmentation'):
            instance['mask'] = ann['segmentation']
        instance.update({key: ann[key] for key in _INSTANCE_EXTRAS if key in ann})
        instances_by_image.setdefault(ann['image_id'], []).append(instance)
    return instances_by_image


def _group_images(images: list, videos: Optional[list], ann_file: str) -> List[List[dict]]:
    """Images grouped into videos (videos-list order, frames by frame_id), then DET images."""
    video_order: Dict[object, int] = {}
    if videos is not None:
        for index, video in enumerate(videos):
            _require(video, ('id',), ann_file, 'video', index)
            video_order.setdefault(video['id'], len(video_order))
    grouped: Dict[object, List[dict]] = {}
    singles: List[List[dict]] = []
    for image in images:
        video_id = image.get('video_id')
        if video_id is None:
            singles.append([image])
            continue
        if 'frame_id' not in image:
            raise ValueError(f"{ann_file}: image id {image['id']} has a video_id but no frame_id")
        if video_id not in video_order:
            if videos is not None:
                raise ValueError(f"{ann_file}: image id {image['id']} has video_id {video_id}, "
                                 'which is not in videos')
            video_order[video_id] = len(video_order)
        grouped.setdefault(video_id, []).append(image)
    ordered = []
    for video_id in sorted(grouped, key=video_order.__getitem__):
        frames = sorted(grouped[video_id], key=lambda image: image['frame_id'])
        for previous, current in zip(frames, frames[1:]):
            if previous['frame_id'] == current['frame_id']:
                raise ValueError(f"{ann_file}: images {previous['id']} and {current['id']} are both "
                                 f"frame {current['frame_id']} of video {video_id}")
        ordered.append(frames)
    return ordered + singles


def load_cocovid(ann_file: str, *, classes: Optional[Sequence[str]] = None,
                 img_prefix: str = '') -> CocoVidFrames:
    """Parse ``ann_file`` into data infos (boxes xyxy, labels = index in ``classes``).

    COCO Camera Traps files (``location``, ``seq_id``, ``frame_num``) are read with each
    sequence as a video (`camera_traps_as_cocovid`). A ``datetime`` also gives the frame a
    ``timestamp`` in seconds. Missing keys, unknown ids, duplicate frames and unreadable
    datetimes raise ``ValueError`` naming the file and the record. Boxes reaching outside their image are clipped, boxes with nothing left are
    skipped; both are counted in ``issues`` and reported in one warning.
    """
    content = read_cocovid_json(ann_file)
    if is_camera_traps_json(content):
        content = camera_traps_as_cocovid(content, ann_file)
    classes, label_of_category = _resolve_classes(content['categories'], classes, ann_file)
    images_by_id: Dict[int, dict] = {}
    for index, image in enumerate(content['images']):
        _require(image, ('id', 'file_name', 'width', 'height'), ann_file, 'image', index)
        if image['id'] in images_by_id:
            raise ValueError(f"{ann_file}: image id {image['id']} appears twice")
        images_by_id[image['id']] = image
    videos = content.get('videos')
    videos_by_id = {video['id']: video for video in videos or [] if isinstance(video, dict) and 'id' in video}
    issues: Counter = Counter()
    examples: Dict[str, str] = {}
    instances_by_image = _parse_instances(content['annotations'], images_by_id, label_of_category,
                                          ann_file, issues, examples)

    frames: List[dict] = []
    video_starts: List[int] = []
    for video_frames in _group_images(content['images'], videos, ann_file):
        start = len(frames)
        for image in video_frames:
            video_id = image.get('video_id')
            info = {
                'img_id': image['id'],
                'img_path': osp.join(img_prefix, image['file_name']) if img_prefix else image['file_name'],
                'height': int(image['height']), 'width': int(image['width']),
                'video_id': video_id,
                'frame_id': int(image['frame_id']) if video_id is not None else 0,
                'video_length': len(video_frames),
                'is_video_data': video_id is not None,
                'instances': instances_by_image.get(image['id'], []),
            }
            info.update({key: image[key] for key in _IMAGE_EXTRAS if key in image})
            video = videos_by_id.get(video_id, {})
            info.update({ours: video[theirs] for theirs, ours in _VIDEO_EXTRAS.items() if theirs in video})
            if info.get('datetime') is not None:   # seconds, for per-camera memory horizons
                info['timestamp'] = parse_timestamp(info['datetime'], where=f"{ann_file}: image id {image['id']}")
            frames.append(info)
            video_starts.append(start)

    if issues['clipped_boxes'] or issues['skipped_empty_boxes']:
        warnings.warn(
            f"{ann_file}: clipped {issues['clipped_boxes']} box(es) reaching outside their image "
            f"(first: {examples.get('clipped_boxes', '-')}) and skipped "
            f"{issues['skipped_empty_boxes']} box(es) of zero size inside it "
            f"(first: {examples.get('skipped_empty_boxes', '-')})")
    return CocoVidFrames(frames=frames, video_starts=video_starts, classes=classes, issues=issues)

"""COCO Camera Traps (CCT, the LILA camera-trap json format) read as CocoVID, and the
clock and camera ids that per-camera memory (Context R-CNN) needs.

CCT images carry ``location`` (the camera), ``datetime``, ``seq_id`` (a burst of frames)
and ``frame_num``; there is no ``videos`` list. `camera_traps_as_cocovid` turns each
sequence into a video, so `CocoVideoDataset` reads CCT files like any CocoVID file.
"""
from __future__ import annotations

import zlib
from datetime import datetime, timezone
from typing import Any, Dict

# EXIF-style stamps ("2011:05:13 23:43:18") appear in camera-trap metadata beside ISO ones.
_EXTRA_FORMATS = ('%Y:%m:%d %H:%M:%S', '%Y/%m/%d %H:%M:%S', '%d/%m/%Y %H:%M:%S')


def parse_timestamp(value: Any, *, where: str) -> float:
    """Seconds since the Unix epoch of an ISO 8601 datetime (``2013-10-21 11:35:56``,
    ``2024-06-01T00:00:01.500``) or an EXIF-style one; a stamp without a zone is taken
    as UTC (cameras keep local time; only differences matter for memory horizons)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        moment = None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            for pattern in _EXTRA_FORMATS:
                try:
                    moment = datetime.strptime(text, pattern)
                    break
                except ValueError:
                    continue
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.timestamp()
    raise ValueError(f'{where}: cannot read the datetime {value!r}; expected ISO 8601 '
                     "(e.g. '2013-10-21 11:35:56') or EXIF style ('2013:10:21 11:35:56')")


def camera_id(location: Any) -> int:
    """An integer id for a camera / location: integers (or digit strings) as they are,
    other names by a stable hash, so that ids agree between splits and runs."""
    if isinstance(location, bool):
        raise TypeError(f'a camera location must be an int or a string, got {location!r}')
    if isinstance(location, int):
        return location
    if isinstance(location, str):
        text = location.strip()
        if text.isdigit():
            return int(text)
        return (1 << 31) + zlib.crc32(text.encode('utf-8'))   # above any plain small int id
    raise TypeError(f'a camera location must be an int or a string, got {location!r}')


def is_camera_traps_json(content: Dict[str, Any]) -> bool:
    """CCT: no ``videos`` list, and images that name a location or a sequence."""
    images = content.get('images') or []
    return 'videos' not in content and any(
        isinstance(image, dict) and ('location' in image or 'seq_id' in image) for image in images)


def camera_traps_as_cocovid(content: Dict[str, Any], ann_file: str) -> Dict[str, Any]:
    """A copy of a CCT dict in CocoVID form: each ``seq_id`` becomes a video (frames
    ordered by ``frame_num``), ``location`` becomes the image's ``camera``. Images without
    a ``seq_id`` stay single images; annotations without a ``bbox`` are left out."""
    sequences: Dict[Any, int] = {}
    images = []
    for index, image in enumerate(content.get('images') or []):
        if not isinstance(image, dict):
            raise ValueError(f'{ann_file}: image #{index} is not a JSON object: {image!r}')
        image = dict(image)
        if 'location' in image:
            try:
                image['camera'] = camera_id(image['location'])
            except TypeError as error:
                raise ValueError(f"{ann_file}: image id {image.get('id', f'#{index}')}: {error}") from None
        if image.get('seq_id') is not None:
            image['video_id'] = sequences.setdefault(image['seq_id'], len(sequences) + 1)
            image['frame_id'] = int(image.get('frame_num', 0))
        images.append(image)
    # image-level labels (no box) are common in camera-trap files; detection skips them
    boxed = [ann for ann in content.get('annotations') or [] if not isinstance(ann, dict) or 'bbox' in ann]
    return dict(content, images=images, annotations=boxed)

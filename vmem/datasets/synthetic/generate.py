"""Write a SynthVID split: JPEG frames, one mp4 per video and a CocoVID json.

Layout under ``out_dir``::

    annotations/synthvid_<split>.json
    <split>/frames/<video_name>/<frame_id:06d>.jpg
    <split>/videos/<video_name>.mp4

Image ``file_name`` is relative to ``<out_dir>/<split>/frames`` (``info.data_prefix`` says
so relative to ``out_dir``); use that folder as the dataset's image prefix. The json's
``info.settings`` holds every setting; a later call with the same settings finds the split
complete and returns without writing (``overwrite=True`` forces a rewrite). The json is
written last, so an interrupted run is never mistaken for a finished one.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ...video import VideoWriter
from .config import CLASS_NAMES, SynthVIDConfig, check_split_name
from .render import RenderedVideo, render_video

GENERATOR_VERSION = 1  # bump when the same settings would render different content
EPOCH = datetime(2024, 6, 1)
logger = logging.getLogger(__name__)


def annotation_path(out_dir: str | Path, split: str) -> Path:
    return Path(out_dir) / 'annotations' / f'synthvid_{check_split_name(split)}.json'


def frames_dir(out_dir: str | Path, split: str) -> Path:
    return Path(out_dir) / check_split_name(split) / 'frames'


def videos_dir(out_dir: str | Path, split: str) -> Path:
    return Path(out_dir) / check_split_name(split) / 'videos'


def generate_synthvid(out_dir: str | Path, *, split: str = 'train', config: SynthVIDConfig | None = None,
                      overwrite: bool = False, **settings) -> Path:
    """Generate one split and return its json path.

    ``settings`` are `SynthVIDConfig` fields (``num_videos``, ``num_frames``, ``width``,
    ``height``, ``seed`` and the difficulty knobs); they override ``config``. The same
    settings give a byte-identical json and identical frames; each split draws its own
    videos from the seed, so splits never share one.
    """
    check_split_name(split)
    config = _make_config(config, settings)
    json_path = annotation_path(out_dir, split)
    if not overwrite and is_generated(out_dir, split=split, config=config):
        logger.info('SynthVID %s split already generated in %s', split, json_path)
        return json_path
    dataset = _empty_dataset(config, split)
    camera_canvases: dict[int, np.ndarray] = {}
    for index in range(config.num_videos):
        video = render_video(config, split=split, index=index, camera_canvases=camera_canvases)
        name = f'{split}_{index:05d}'
        _write_frames(frames_dir(out_dir, split) / name, video.frames, config.jpeg_quality)
        if config.write_videos:
            _write_mp4(videos_dir(out_dir, split) / f'{name}.mp4', video.frames, config)
        _add_video(dataset, video, name=name, config=config)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    partial = json_path.with_name(json_path.name + '.partial')
    partial.write_text(json.dumps(dataset, separators=(',', ':')))
    os.replace(partial, json_path)
    return json_path


def is_generated(out_dir: str | Path, *, split: str, config: SynthVIDConfig) -> bool:
    """True if the split's json was written with exactly these settings and its files exist."""
    json_path = annotation_path(out_dir, split)
    try:
        dataset = json.loads(json_path.read_text())
        info = dataset['info']
        if (info.get('generator_version') != GENERATOR_VERSION or info.get('split') != split
                or info.get('settings') != config.to_json()):
            return False
        frames = frames_dir(out_dir, split)
        if not all((frames / image['file_name']).is_file() for image in dataset['images']):
            return False
        return not config.write_videos or all(
            (videos_dir(out_dir, split) / f"{video['name']}.mp4").is_file() for video in dataset['videos'])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False  # missing or unreadable: generate afresh


def _make_config(config: SynthVIDConfig | None, settings: dict) -> SynthVIDConfig:
    if config is not None and not isinstance(config, SynthVIDConfig):
        raise TypeError(f'config must be a SynthVIDConfig, got {type(config).__name__}')
    known = {field.name for field in dataclasses.fields(SynthVIDConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f'unknown SynthVID setting(s) {unknown}; known: {sorted(known)}')
    return dataclasses.replace(config, **settings) if config is not None else SynthVIDConfig(**settings)


def _empty_dataset(config: SynthVIDConfig, split: str) -> dict:
    return {
        'info': {
            'description': 'SynthVID: procedural videos for video object detection with memory',
            'generator_version': GENERATOR_VERSION,
            'split': split,
            'data_prefix': f'{split}/frames',
            'settings': config.to_json(),
        },
        'categories': [{'id': i + 1, 'name': name} for i, name in enumerate(CLASS_NAMES)],
        'videos': [], 'images': [], 'annotations': [],
    }


def _add_video(dataset: dict, video: RenderedVideo, *, name: str, config: SynthVIDConfig) -> None:
    video_id = len(dataset['videos']) + 1
    start = EPOCH + timedelta(seconds=video.start_offset_s)
    dataset['videos'].append({
        'id': video_id, 'name': name, 'width': config.width, 'height': config.height,
        'fps': config.fps, 'camera': video.camera, 'num_frames': config.num_frames,
        'start_datetime': start.isoformat(timespec='milliseconds')})
    # Instance ids count on from the previous videos, so they are unique in the split.
    first_instance = 1 + max((a['instance_id'] for a in dataset['annotations']), default=0)
    for frame_id, views in enumerate(video.views):
        image_id = len(dataset['images']) + 1
        moment = start + timedelta(seconds=frame_id / config.fps)
        dataset['images'].append({
            'id': image_id, 'video_id': video_id, 'frame_id': frame_id,
            'file_name': f'{name}/{frame_id:06d}.jpg', 'width': config.width,
            'height': config.height, 'datetime': moment.isoformat(timespec='milliseconds')})
        for view in views:
            x, y, w, h = view.bbox
            rle = mask_utils.encode(np.asfortranarray(view.mask.astype(np.uint8)))
            dataset['annotations'].append({
                'id': len(dataset['annotations']) + 1, 'image_id': image_id, 'video_id': video_id,
                'category_id': video.objects[view.object_index].category_id,
                'instance_id': first_instance + view.object_index,
                'bbox': [x, y, w, h], 'area': w * h, 'iscrowd': 0,
                'segmentation': {'size': [int(v) for v in rle['size']],
                                 'counts': rle['counts'].decode('ascii')},
                'degraded': view.degradation is not None,
                'degradation': 'none' if view.degradation is None else view.degradation.kind})
            member = video.objects[view.object_index].roster_member
            if member is not None:   # the same camera's same recurring object, across videos
                dataset['annotations'][-1]['roster_member'] = member


def _write_frames(folder: Path, frames: list[np.ndarray], quality: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for frame_id, frame in enumerate(frames):
        path = folder / f'{frame_id:06d}.jpg'
        if not cv2.imwrite(str(path), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f'could not write SynthVID frame {path}')


def _write_mp4(path: Path, frames: list[np.ndarray], config: SynthVIDConfig) -> None:
    with VideoWriter(str(path), fps=config.fps, frame_size=(config.width, config.height)) as writer:
        for frame in frames:
            writer.write(frame)


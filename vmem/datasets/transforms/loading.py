"""Loading a frame (image file, video file or in-memory array) and its annotations."""
from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
import pycocotools.mask as mask_utils

from vmem.registry import TRANSFORMS
from vmem.video import open_video, read_image

from .base import BaseTransform


@TRANSFORMS.register_module()
class LoadFrame(BaseTransform):
    """Load one RGB uint8 frame into ``results['img']``.

    The source is, in this order: an ``img`` array already in ``results`` (frames from a
    stream), ``img_path`` (an image file), or ``video_path`` + ``frame_id`` (a frame decoded
    from a video file). Sets ``img_shape`` and ``ori_shape`` as (h, w). When ``results``
    also has the annotation file's ``height``/``width`` and they disagree with the frame,
    raises ``ValueError``: the boxes would be in the wrong coordinates.
    """

    def __init__(self, *, max_open_videos: int = 2):
        if max_open_videos < 1:
            raise ValueError(f'max_open_videos must be >= 1, got {max_open_videos}')
        self.max_open_videos = max_open_videos
        # Key and reference frames come from one video, so a small cache of open readers
        # avoids reopening (and re-seeking from the start of) the file for every frame.
        self._open_videos: OrderedDict = OrderedDict()

    def transform(self, results: dict) -> dict:
        image = results.get('img')
        if isinstance(image, np.ndarray):
            source = 'the in-memory frame'
        elif results.get('img_path') is not None:
            source = results['img_path']
            image = read_image(source)
        elif results.get('video_path') is not None:
            if results.get('frame_id') is None:
                raise ValueError(f"results has video_path {results['video_path']!r} but no frame_id")
            source = f"frame {results['frame_id']} of {results['video_path']}"
            image = self._read_video_frame(results['video_path'], int(results['frame_id']))
        else:
            raise ValueError("LoadFrame needs 'img', 'img_path' or 'video_path' in results, "
                             f'got keys {sorted(results)}')
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f'{source}: expected an RGB uint8 HxWx3 frame, '
                             f'got dtype {image.dtype} shape {image.shape}')
        height, width = image.shape[:2]
        expected = (results.get('height'), results.get('width'))
        if None not in expected and tuple(expected) != (height, width):
            raise ValueError(f'{source}: the frame is {height}x{width} (h x w) but its annotation '
                             f'says {expected[0]}x{expected[1]}')
        results['img'] = image
        results['img_shape'] = (height, width)
        results['ori_shape'] = (height, width)
        return results

    def _read_video_frame(self, path: str, frame_index: int) -> np.ndarray:
        source = self._open_videos.pop(path, None)
        if source is None:
            source = open_video(path)
        self._open_videos[path] = source
        while len(self._open_videos) > self.max_open_videos:
            _, oldest = self._open_videos.popitem(last=False)
            oldest.close()
        return source.read(frame_index)

    def __getstate__(self) -> dict:
        # Open readers cannot cross process boundaries (dataloader workers); reopen there.
        state = dict(vars(self))
        state['_open_videos'] = OrderedDict()
        return state


def decode_mask(segmentation, height: int, width: int) -> np.ndarray:
    """A COCO segmentation (RLE with str/bytes or list counts, or polygons) as a uint8 HxW mask."""
    with warnings.catch_warnings():
        # pycocotools built for numpy 1 warns about ``copy=False`` on every decode; harmless.
        warnings.simplefilter('ignore', DeprecationWarning)
        return _decode_mask(segmentation, height, width)


def _decode_mask(segmentation, height: int, width: int) -> np.ndarray:
    if isinstance(segmentation, dict):
        if isinstance(segmentation.get('counts'), list):
            segmentation = mask_utils.frPyObjects(segmentation, height, width)
        return mask_utils.decode(segmentation).astype(np.uint8)
    if isinstance(segmentation, list):
        if not segmentation:
            return np.zeros((height, width), np.uint8)
        rles = mask_utils.frPyObjects(segmentation, height, width)
        return mask_utils.decode(mask_utils.merge(rles)).astype(np.uint8)
    raise TypeError(f'segmentation must be an RLE dict or a list of polygons, got {type(segmentation).__name__}')


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Turn ``results['instances']`` (from the dataset) into arrays.

    Writes ``gt_bboxes`` float32 [n, 4] xyxy, ``gt_bboxes_labels`` int64 [n],
    ``gt_ignore_flags`` bool [n], ``gt_instances_ids`` int64 [n] (-1 where unknown) and, with
    ``with_mask``, ``gt_masks`` uint8 [n, H, W] decoded with pycocotools (an instance without
    a segmentation gets an all-zero mask). Frames without ``instances`` get empty arrays.
    """

    def __init__(self, *, with_bbox: bool = True, with_label: bool = True,
                 with_instance_id: bool = True, with_mask: bool = False):
        self.with_bbox = with_bbox
        self.with_label = with_label
        self.with_instance_id = with_instance_id
        self.with_mask = with_mask

    def transform(self, results: dict) -> dict:
        instances = results.get('instances') or []
        if self.with_bbox:
            boxes = [instance['bbox'] for instance in instances]
            results['gt_bboxes'] = np.asarray(boxes, np.float32).reshape(-1, 4)
            results['gt_ignore_flags'] = np.array(
                [bool(instance.get('ignore_flag', 0)) for instance in instances], bool)
        if self.with_label:
            results['gt_bboxes_labels'] = np.array(
                [instance['bbox_label'] for instance in instances], np.int64)
        if self.with_instance_id:
            results['gt_instances_ids'] = np.array(
                [instance.get('instance_id', -1) for instance in instances], np.int64)
        if self.with_mask:
            results['gt_masks'] = self._load_masks(results, instances)
        return results

    @staticmethod
    def _load_masks(results: dict, instances: list) -> np.ndarray:
        height, width = _frame_size(results)
        masks = np.zeros((len(instances), height, width), np.uint8)
        for index, instance in enumerate(instances):
            if instance.get('mask') is not None:
                masks[index] = decode_mask(instance['mask'], height, width)
        return masks


def _frame_size(results: dict) -> tuple:
    if results.get('ori_shape') is not None:
        return tuple(results['ori_shape'][:2])
    if results.get('height') is not None and results.get('width') is not None:
        return int(results['height']), int(results['width'])
    raise ValueError('LoadAnnotations(with_mask=True) needs the frame size: put LoadFrame first '
                     "or give 'height' and 'width' in the data info")

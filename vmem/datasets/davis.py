"""DAVIS 2017 (semi-supervised video object segmentation) from its folder layout."""
from __future__ import annotations

from typing import List, Optional, Sequence, Union

from vmem.registry import DATASETS

from .davis_layout import (davis_split_videos, davis_video_files, image_size, object_ids_in,
                           read_label_map)
from .vos_dataset import VOSDataset, VOSVideo


@DATASETS.register_module()
class DAVISDataset(VOSDataset):
    """The videos of ``<data_root>/ImageSets/2017/<split>.txt`` (see ``davis_layout``).

    Object id = PNG pixel value; objects have no class (label 0, class ``'object'``).
    ``video_id`` is the video's 0-based position in the split file. Frame data infos carry
    ``seg_map_path`` for ``LoadVOSAnnotations``.

    Construction reads every annotation PNG once (about a millisecond each at 480p) to learn
    which objects each frame shows and to check that each PNG has its frame's size. In
    training every frame needs its PNG; in ``test_mode`` only frame 0's is required (the
    test-dev layout annotates frame 0 only), and frames without one carry no prompts.
    Void pixels (255) are not objects; for training they count as background.
    """

    METAINFO = dict(classes=('object',))

    def __init__(self, *, data_root: str, split: str = 'train', resolution: str = '480p',
                 test_mode: bool = False, pipeline: Sequence = (), clip_length: int = 8,
                 max_stride: int = 1, max_objects: int = 3, clips_per_video: int = 1,
                 indices: Optional[Union[int, Sequence[int]]] = None, serialize_data: bool = True,
                 lazy_init: bool = False, max_refetch: int = 1000):
        if not data_root:
            raise ValueError('DAVISDataset needs data_root (the folder holding JPEGImages, '
                             'Annotations and ImageSets)')
        self.split = split
        self.resolution = resolution
        super().__init__(data_root=data_root, test_mode=test_mode, pipeline=pipeline,
                         clip_length=clip_length, max_stride=max_stride, max_objects=max_objects,
                         clips_per_video=clips_per_video, indices=indices,
                         serialize_data=serialize_data, lazy_init=lazy_init, max_refetch=max_refetch)

    def load_videos(self) -> List[VOSVideo]:
        videos = []
        for video_id, name in enumerate(davis_split_videos(self.data_root, self.split)):
            files = davis_video_files(self.data_root, self.resolution, name)
            frames, visible = [], []
            for position, (frame_path, mask_path) in enumerate(zip(files.frames, files.masks)):
                height, width = image_size(frame_path)
                info = {'img_path': frame_path, 'height': height, 'width': width, 'seg_map_path': None}
                ids: tuple = ()
                if not files.has_mask(position):
                    if not self.test_mode or position == 0:
                        raise FileNotFoundError(f'DAVIS annotation not found: {mask_path} (frame '
                                                f'{position} of video {name!r})')
                else:
                    info['seg_map_path'] = mask_path
                    label_map = read_label_map(mask_path)
                    if label_map.shape != (height, width):
                        raise ValueError(f'{mask_path} is {label_map.shape[0]}x{label_map.shape[1]} '
                                         f'(h x w) but its frame {frame_path} is {height}x{width}')
                    ids = object_ids_in(label_map)
                frames.append(info)
                visible.append(ids)
            labels = {i: 0 for ids in visible for i in ids}
            videos.append(VOSVideo(video_id=video_id, name=name, frames=frames, visible=visible,
                                   object_labels=labels))
        return videos

"""A clip of frames (a key frame and its reference frames) as one data sample."""
from __future__ import annotations

from typing import Iterator, List, Sequence

from mmengine.structures import BaseDataElement

from .det_data_sample import DetDataSample


class TrackDataSample(BaseDataElement):
    """A list of per-frame ``DetDataSample`` plus which of them are key and reference frames.

    ``PackVideoInputs`` puts the key frame first, then the reference frames in temporal order,
    matching the frame axis of its ``inputs`` tensor [T, 3, H, W]; a model's data
    preprocessor can therefore batch clips as [N, T, 3, H, W] and index frames with
    ``key_frames_inds`` / ``ref_frames_inds`` (meta info, as in mmdet 3's tracking samples).
    """

    def __init__(self, *, video_data_samples: Sequence[DetDataSample] = (),
                 key_frames_inds: Sequence[int] = (0,),
                 ref_frames_inds: Sequence[int] | None = None, metainfo: dict | None = None):
        super().__init__(metainfo=metainfo)
        self.video_data_samples = list(video_data_samples)
        if ref_frames_inds is None:
            key_set = set(key_frames_inds)
            ref_frames_inds = [i for i in range(len(self.video_data_samples)) if i not in key_set]
        self.set_metainfo(dict(key_frames_inds=list(key_frames_inds),
                               ref_frames_inds=list(ref_frames_inds)))

    @property
    def video_data_samples(self) -> List[DetDataSample]:
        return self._video_data_samples

    @video_data_samples.setter
    def video_data_samples(self, value: Sequence[DetDataSample]) -> None:
        value = list(value)
        for index, frame in enumerate(value):
            if not isinstance(frame, DetDataSample):
                raise TypeError(f'video_data_samples[{index}] must be a DetDataSample, '
                                f'got {type(frame).__name__}')
        # set_field would reject a list for a dtype check, so store it as a plain data field.
        self.set_field(value, '_video_data_samples', field_type='data')

    @property
    def key_frames(self) -> List[DetDataSample]:
        return [self.video_data_samples[i] for i in self.key_frames_inds]

    @property
    def ref_frames(self) -> List[DetDataSample]:
        return [self.video_data_samples[i] for i in self.ref_frames_inds]

    def __len__(self) -> int:
        return len(self.video_data_samples)

    def __getitem__(self, index: int) -> DetDataSample:
        return self.video_data_samples[index]

    def __iter__(self) -> Iterator[DetDataSample]:  # type: ignore[override]
        return iter(self.video_data_samples)

    def _map_frames(self, method: str, *args, **kwargs) -> 'TrackDataSample':
        # BaseDataElement's tensor methods skip lists, so the frames are moved one by one.
        moved = getattr(super(), method)(*args, **kwargs)
        moved.video_data_samples = [getattr(frame, method)(*args, **kwargs)
                                    for frame in self.video_data_samples]
        return moved

    def to(self, *args, **kwargs) -> 'TrackDataSample':
        return self._map_frames('to', *args, **kwargs)

    def cpu(self) -> 'TrackDataSample':
        return self._map_frames('cpu')

    def cuda(self) -> 'TrackDataSample':
        return self._map_frames('cuda')

    def detach(self) -> 'TrackDataSample':
        return self._map_frames('detach')

    def to_dict(self) -> dict:
        as_dict = super().to_dict()
        as_dict['video_data_samples'] = [frame.to_dict() for frame in self.video_data_samples]
        as_dict.pop('_video_data_samples', None)
        return as_dict

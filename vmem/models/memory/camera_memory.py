"""`CameraMemory`: Context R-CNN's long-term memory, one bounded bank per camera.

An entry is what a frozen detector saw on one past frame of that camera: the box-head
features of one of its top detections, the box ([cx, cy, w, h] over the image size) and
the time (time of day and day of year as sines and cosines), side by side in one vector;
with ``num_classes``, then the detection's class vote (its score at its label, zero
elsewhere: what the frozen detector called it).
Banks are bounded per camera by ``capacity`` (random replacement when full) and reads by
a time ``horizon`` around the frame being detected. They live on the CPU and outside the
model's ``state_dict``: a bank is data (built for a split by
``tools/context_rcnn/build_memory.py``), saved as safetensors, never in checkpoints.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Union

import torch
from safetensors import safe_open

from vmem.memory import HORIZONS, GroupedMemoryBank, load_memory, save_memory

BOX_DIMS, TIME_DIMS = 4, 4
FIELDS = dict(time='float64', image_id='int64', video_id='int64', score='float32')
_UNKNOWN = dict(image_id=-1, video_id=-1)   # what a file written without these fields gets
_DAY, _YEAR = 86400.0, 365.25 * 86400.0


def time_features(timestamp: float) -> torch.Tensor:
    """[4]: time of day and day of year on the unit circle (seconds since the epoch)."""
    day = 2 * math.pi * (timestamp % _DAY) / _DAY
    year = 2 * math.pi * (timestamp % _YEAR) / _YEAR
    return torch.tensor([math.sin(day), math.cos(day), math.sin(year), math.cos(year)])


class CameraRead:
    """A camera's entries for one frame: the ``slots`` they occupy in the camera's bank
    (capacity ``capacity``) and the bank's ``write_step`` of each (together: a version per
    entry, for caches of their projections). ``entries`` [N, entry_dim] are gathered
    from the bank only when asked for: a cache that is up to date never needs them."""

    def __init__(self, camera: int, bank, slots: torch.Tensor, write_step: torch.Tensor):
        self.camera, self.slots, self.write_step = camera, slots, write_step
        self.capacity = bank.capacity
        self._bank = bank
        self._entries: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return len(self.slots)

    @property
    def entries(self) -> torch.Tensor:
        if self._entries is None:
            self._entries = self.entries_at(self.slots)
        return self._entries

    def entries_at(self, slots: torch.Tensor) -> torch.Tensor:
        return self._bank.gather(slots, columns=('keys',)).keys


class CameraMemory:
    """Per-camera banks of detection entries.

    Args:
        feature_dim: width of the box-head features stored.
        capacity: entries per camera (the paper keeps up to 8640 per camera; 2000 in its
            configs here).
        horizon: a frame reads the entries within this many seconds of its own time
            (before or after: a bank built from a whole split holds both), as a number,
            one of 'hour', 'day', 'week', 'month', or None for no limit.
        max_per_frame, score_thr: each frame contributes its ``max_per_frame`` best
            detections scoring at least ``score_thr``.
        num_classes: > 0 stores each detection's class vote (``num_classes`` numbers
            after the time) as well; 0 (the paper's entry) does not.
        seed: seed of the random replacement and of subsampling a larger file.
    """

    def __init__(self, *, feature_dim: int, capacity: int = 2000, horizon: Union[str, float, None] = 'month',
                 max_per_frame: int = 8, score_thr: float = 0.5, num_classes: int = 0, seed: int = 0):
        for name, value in (('feature_dim', feature_dim), ('capacity', capacity), ('max_per_frame', max_per_frame)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(f'num_classes must be an int >= 0 (0: no class votes), got {num_classes!r}')
        if isinstance(horizon, str):
            if horizon not in HORIZONS:
                raise ValueError(f'horizon must be seconds, None or one of {sorted(HORIZONS)}, got {horizon!r}')
            horizon = float(HORIZONS[horizon])
        if horizon is not None and not horizon > 0:
            raise ValueError(f'horizon must be > 0 seconds, got {horizon!r}')
        self.feature_dim, self.capacity, self.horizon = feature_dim, capacity, horizon
        self.max_per_frame, self.score_thr, self.seed = max_per_frame, score_thr, seed
        self.num_classes = num_classes
        self.bank = self._new_bank(capacity)

    def _new_bank(self, capacity: int, fields: Optional[dict] = None) -> GroupedMemoryBank:
        # persistent: the bank's own state_dict is its file; it is not a child of the model
        return GroupedMemoryBank(capacity_per_group=capacity, dim=self.entry_dim, fields=fields or FIELDS,
                                 time_field='time', write_policy='RandomReplace', seed=self.seed)

    @property
    def entry_dim(self) -> int:
        return self.feature_dim + BOX_DIMS + TIME_DIMS + self.num_classes

    @property
    def votes_start(self) -> int:
        """Where an entry's class vote starts (it runs to the end)."""
        return self.feature_dim + BOX_DIMS + TIME_DIMS

    @property
    def cameras(self) -> list:
        return self.bank.groups

    def __len__(self) -> int:
        return len(self.bank)

    def reset(self) -> None:
        self.bank.reset()

    def size(self, camera: int) -> int:
        return self.bank.bank(camera).size if camera in self.bank.groups else 0

    # ----------------------------------------------------------------- writing
    def encode(self, features: torch.Tensor, boxes: torch.Tensor, timestamp: float,
               scores: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Entries [n, entry_dim] from features [n, feature_dim] and boxes [n, 4] given as
        [cx, cy, w, h] fractions of the image (and, with ``num_classes``, the detections'
        scores and 0-based labels)."""
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise ValueError(f'features must be [n, {self.feature_dim}], got {list(features.shape)}')
        if boxes.shape != (features.shape[0], BOX_DIMS):
            raise ValueError(f'boxes must be [{features.shape[0]}, 4] (cx, cy, w, h), got {list(boxes.shape)}')
        clock = time_features(timestamp).to(features).expand(features.shape[0], TIME_DIMS)
        parts = [features.float(), boxes.float(), clock.float()]
        if self.num_classes:
            parts.append(self.class_votes(scores, labels, len(features)))
        return torch.cat(parts, dim=1)

    def class_votes(self, scores: Optional[torch.Tensor], labels: Optional[torch.Tensor], count: int) -> torch.Tensor:
        if labels is None or scores is None:
            raise ValueError(f'this memory stores class votes (num_classes={self.num_classes}): '
                             'writing needs the detections\' labels and scores')
        labels = labels.long().cpu()
        if labels.shape != (count,) or scores.shape != (count,):
            raise ValueError(f'labels and scores must be [{count}], got {list(labels.shape)} and {list(scores.shape)}')
        if count and not 0 <= int(labels.min()) <= int(labels.max()) < self.num_classes:
            raise ValueError(f'labels must be in [0, {self.num_classes}), got {labels.tolist()}')
        votes = torch.zeros(count, self.num_classes)
        return votes.scatter_(1, labels[:, None], scores.detach().float().cpu()[:, None])

    @torch.no_grad()
    def write(self, camera: int, *, features: torch.Tensor, boxes: torch.Tensor, scores: torch.Tensor,
              timestamp: float, image_id: int = -1, video_id: Optional[int] = None,
              labels: Optional[torch.Tensor] = None) -> int:
        """Store one frame's detections (features [n, feature_dim], normalised cxcywh boxes,
        scores, best first or not; 0-based labels, needed with ``num_classes``); returns
        how many were kept. With a horizon, entries older than it (relative to this frame)
        are dropped: a live camera's memory."""
        keep = (scores >= self.score_thr).nonzero().squeeze(1)
        keep = keep[scores[keep].argsort(descending=True)][:self.max_per_frame]
        if len(keep) == 0:
            return 0
        entries = self.encode(features[keep].detach().cpu(), boxes[keep].detach().cpu(), timestamp,
                              scores=scores[keep], labels=None if labels is None else labels[keep])
        self.bank.write(int(camera), entries, time=torch.full((len(keep),), float(timestamp), dtype=torch.float64),
                        image_id=int(image_id), video_id=-1 if video_id is None else int(video_id),
                        score=scores[keep].detach().float().cpu())
        if self.horizon is not None:
            bank = self.bank.bank(int(camera))
            bank.remove(bank.mask(time=(None, float(timestamp) - self.horizon)))
        return len(keep)

    # ----------------------------------------------------------------- reading
    def read(self, camera: Optional[int], *, timestamp: Optional[float], exclude_image: Optional[int] = None,
             exclude_video: Optional[int] = None, window: Optional[float] = None) -> Optional[CameraRead]:
        """The camera's entries within the horizon (or ``window`` seconds, e.g. a
        short-term read of nearby frames) of ``timestamp`` (all of them when the frame has
        no time), leaving out those written by ``exclude_image`` and by the frames of
        ``exclude_video``. None for a
        camera with no memory, an unknown one included: the detector then works as a
        single-frame one."""
        if camera is None or int(camera) not in self.bank.groups:
            return None
        bank = self.bank.bank(int(camera))
        span = self.horizon if window is None else float(window)
        if timestamp is not None and span is not None:
            where = bank.mask(time=(float(timestamp) - span, float(timestamp) + span))
        else:
            where = bank.mask()
        if exclude_image is not None:
            where &= bank.field('image_id') != int(exclude_image)
        if exclude_video is not None:
            where &= bank.field('video_id') != int(exclude_video)
        read = bank.read(where, columns=('write_step',))
        return CameraRead(int(camera), bank, read.slots, read.write_step)

    # ----------------------------------------------------------------- files
    def save(self, path: Union[str, Path]) -> None:
        save_memory(self.bank, path)

    def load(self, path: Union[str, Path]) -> None:
        """Replace the memory with a file written by `save` (safetensors: tensors only).
        A file holding more entries per camera than ``capacity`` is subsampled at random
        (seeded), so one file built with a large capacity serves every bank size."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f'camera memory file not found: {path}')
        try:
            with safe_open(str(path), framework='pt') as handle:
                shapes = {name: handle.get_slice(name).get_shape() for name in handle.keys()}
        except Exception as error:   # safetensors raises its own types
            raise ValueError(f'{path} is not a readable safetensors memory file: {error}') from error
        key_shapes = {tuple(shape) for name, shape in shapes.items() if name.endswith('.keys')}
        if not key_shapes:
            self.reset()
            return
        if len(key_shapes) != 1:
            raise ValueError(f'{path}: camera banks of different shapes {sorted(key_shapes)}')
        file_capacity, file_dim = next(iter(key_shapes))
        if file_dim != self.entry_dim:
            votes = f' + {self.num_classes} class votes' if self.num_classes else ''
            raise ValueError(f'{path} holds {file_dim}-d entries but this model stores {self.entry_dim}-d ones '
                             f'({self.feature_dim}-d features + box + time{votes}): the file was built with a '
                             'detector of another box-head width, or with other class-vote settings '
                             '(camera_memory num_classes)')
        prefix = next(name for name in shapes if name.endswith('.keys'))[:-len('keys')]
        in_file = {name[len(prefix) + len('field_'):] for name in shapes
                   if name.startswith(prefix + 'field_')}
        missing = set(FIELDS) - in_file - set(_UNKNOWN)
        if missing or in_file - set(FIELDS):
            raise ValueError(f'{path}: fields {sorted(in_file)} are not a camera memory file '
                             f'(expected {sorted(FIELDS)})')
        stored = self._new_bank(file_capacity, {name: FIELDS[name] for name in FIELDS if name in in_file})
        load_memory(stored, path)
        generator = torch.Generator().manual_seed(self.seed)
        self.reset()
        for camera in stored.groups:
            read = stored.read(camera)
            order = read.write_step.argsort()             # oldest first, as they were written
            if len(order) > self.capacity:
                chosen = torch.randperm(len(order), generator=generator)[:self.capacity]
                order = order[chosen.sort().values]
            fields = {name: read.fields[name][order] if name in read.fields else _UNKNOWN[name] for name in FIELDS}
            self.bank.write(camera, read.keys[order], **fields)

    def __repr__(self) -> str:
        return (f'CameraMemory(feature_dim={self.feature_dim}, capacity={self.capacity}, horizon={self.horizon}, '
                f'max_per_frame={self.max_per_frame}, score_thr={self.score_thr}, num_classes={self.num_classes}, '
                f'entries={len(self)})')

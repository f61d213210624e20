"""What ``video_demo.py`` needs to track objects given by boxes on the first frame.

Reading the boxes from the command line (``--prompt-box``) or a JSON file (``--prompts``),
telling trackers from detectors, and feeding a stream to `vmem.apis.StreamingTracker`.
The tracking itself is the API's; this module only adapts it to the demo's loop, so
everything here can equally be done from Python with the API alone.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

Boxes = dict[int, list[float]]  # object id -> [x1, y1, x2, y2] in original frame pixels

BOX_FORMAT = 'x1,y1,x2,y2'
JSON_FORMS = '[[x1, y1, x2, y2], ...] or {"<id>": [x1, y1, x2, y2], ...}'
_JSON_TYPES = {dict: 'an object', list: 'a list', str: 'a string', bool: 'a boolean', int: 'a number',
               float: 'a number', type(None): 'null'}


def is_prompted_tracker(model: torch.nn.Module) -> bool:
    """Whether ``model`` tracks prompted objects (and so runs through StreamingTracker).

    ``isinstance`` on the one class StreamingTracker drives: a subclass, or the class
    registered under another name, still counts, and a detector that happens to own a
    submodule called ``network`` (what ``hasattr`` would test) does not."""
    from vmem.models.trackers.sam2_tracker import SAM2Tracker
    return isinstance(model, SAM2Tracker)


def read_box_prompts(*, box_texts: Optional[Sequence[str]], prompts_file: Optional[str]) -> Boxes:
    """The first-frame boxes given on the command line; empty when none were given.
    Fails (ValueError, one line) before any model is built, so typos cost nothing."""
    if box_texts and prompts_file:
        raise ValueError('give boxes with --prompt-box or with --prompts, not both')
    if prompts_file:
        return read_prompts_file(prompts_file)
    # Ids follow the order of the options, from 1: the order users read them in.
    return {object_id: parse_box_text(text, where=f'--prompt-box {text!r}')
            for object_id, text in enumerate(box_texts or (), start=1)}


def parse_box_text(text: str, *, where: str) -> list[float]:
    parts = text.split(',')
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(parts) != 4 or len(values) != 4:
        raise ValueError(f'{where}: expected {BOX_FORMAT}, four numbers separated by commas')
    return check_box(values, where=where)


def read_prompts_file(path: str) -> Boxes:
    where = f'--prompts {path}'
    try:
        data = json.loads(Path(path).read_text(encoding='utf-8'))
    except FileNotFoundError as error:
        raise FileNotFoundError(f'{where}: no such file') from error
    except OSError as error:
        raise ValueError(f'{where}: cannot read it: {error.strerror or error}') from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f'{where}: not valid JSON ({error})') from error
    if isinstance(data, list):
        items = list(enumerate(data, start=1))
    elif isinstance(data, dict):
        items = [(_object_id(key, where=where), value) for key, value in data.items()]
    else:
        raise ValueError(f'{where}: expected {JSON_FORMS}, got {_JSON_TYPES.get(type(data), type(data).__name__)}')
    if not items:
        raise ValueError(f'{where}: there are no boxes in it; expected {JSON_FORMS}')
    return {object_id: check_box(box, where=f'{where}: object {object_id}') for object_id, box in items}


def _object_id(key: str, *, where: str) -> int:
    # JSON keys are always strings; only plain digits, so "1.5" or " 1" is not silently an id
    if not re.fullmatch(r'[0-9]+', key):
        raise ValueError(f'{where}: object ids must be whole numbers >= 0, got {key!r}')
    return int(key)


def check_box(box: Any, *, where: str) -> list[float]:
    """``box`` as four floats x1 < x2, y1 < y2 (whether it lies inside the frame is
    checked on the first frame, as only then is the frame size known)."""
    numbers = isinstance(box, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
    if not numbers or len(box) != 4:
        raise ValueError(f'{where}: a box must be four numbers [x1, y1, x2, y2], got {json.dumps(box)}')
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f'{where}: box coordinates must be finite, got {[x1, y1, x2, y2]}')
    if not (x1 < x2 and y1 < y2):
        raise ValueError(f'{where}: a box needs x1 < x2 and y1 < y2, got {[x1, y1, x2, y2]}')
    return [x1, y1, x2, y2]


def start_tracking(tracker, source, *, boxes: Boxes,
                   max_frames: Optional[int] = None) -> Iterator[tuple[np.ndarray, dict]]:
    """(frame, drawable instances) for each frame of ``source`` (a `FrameSource`), the
    objects of ``boxes`` started on the first frame and tracked through the rest.

    Boxes are checked against the size the source reports now, so that a mistyped box
    fails before the demo creates its output file; sources that report no size are
    checked on their first frame."""
    if source.width > 0 and source.height > 0:
        check_inside(boxes, width=source.width, height=source.height)
    return _track(tracker, source, boxes=boxes, max_frames=max_frames)


def _track(tracker, frames: Iterator[np.ndarray], *, boxes: Boxes,
           max_frames: Optional[int]) -> Iterator[tuple[np.ndarray, dict]]:
    for frame_index, frame in enumerate(frames):
        if frame_index == 0:
            check_inside(boxes, width=frame.shape[1], height=frame.shape[0])
        result = tracker.track(frame, boxes=boxes if frame_index == 0 else None)
        yield frame, tracked_instances(result)
        if max_frames is not None and frame_index + 1 >= max_frames:
            break  # before reading a frame that would be thrown away (a webcam's is gone)


def check_inside(boxes: Boxes, *, width: int, height: int) -> None:
    # The tracker refuses these too, but naming one corner; the user wants the whole box.
    for object_id, (x1, y1, x2, y2) in boxes.items():
        if min(x1, y1) < 0 or x2 > width or y2 > height:
            raise ValueError(f'the box of object {object_id}, {[x1, y1, x2, y2]}, does not fit in the first '
                             f'frame ({width}x{height} pixels; boxes are x1,y1,x2,y2 in its pixels)')


def tracked_instances(result) -> dict:
    """A `TrackResult` as the drawer's instances (colour and caption by object id).

    Objects with an empty mask are left out: they are not visible on this frame, and
    their box (all zeros) would put a stray caption in the top-left corner."""
    visible = result.masks.flatten(1).any(dim=1)
    return dict(bboxes=result.boxes[visible], scores=result.scores[visible], masks=result.masks[visible],
                instance_ids=torch.as_tensor(result.object_ids, dtype=torch.long)[visible])

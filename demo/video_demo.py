"""Run a model on a video file, a frame folder or a webcam; draw its detections, or
track objects given by boxes on the first frame.

    python demo/video_demo.py SOURCE CONFIG [CHECKPOINT] [--out out.mp4] [--show]
                              [--score-thr 0.3] [--device cpu|cuda] [--max-frames N]
                              [--prompt-box x1,y1,x2,y2 ... | --prompts boxes.json]
                              [--camera ID [--start-time 2024-06-01T08:00:00]] [--cfg-options KEY=VALUE ...]

SOURCE is a video file, a folder of frames, an image, or a webcam index (``0``). Memory
models run online: each frame reads memory built from the frames before it.

A tracker config (SAM 2-style, e.g. configs/sam2/sam2.1_hiera_tiny_davis.py) needs the
objects to track, as boxes in the first frame's pixels: ``--prompt-box x1,y1,x2,y2``, once
per object (ids 1, 2, ... in order), or ``--prompts boxes.json`` holding a list of boxes
``[[x1, y1, x2, y2], ...]`` or ids and boxes ``{"3": [x1, y1, x2, y2], ...}``. Each object
is drawn with its mask, box, id and presence score, in its id's colour, on the frames
where its presence score is at least ``--score-thr``.

``--camera ID`` says which camera the source is, for per-camera memory (Context R-CNN,
configs/context_rcnn/): frames read that camera's memory and add their detections to it.
They are stamped from ``--start-time`` (ISO 8601; default: now) at the source's fps; a
webcam uses the wall clock. Files show
a progress line (frames, fps, ETA); webcams show a live fps counter, also drawn on the
frames. Without ``--show`` nothing opens a window, so the demo runs headless. Ctrl-C (or
q / Esc in the window) stops it; the output video keeps the frames written so far.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from vmem.apis.model_init import DEVICES, init_model  # noqa: E402
from vmem.apis.sam2_predictor import StreamingTracker  # noqa: E402
from vmem.apis.video_inference import VideoInferencer  # noqa: E402
from vmem.datasets.camera_traps import parse_timestamp  # noqa: E402
from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.progress import FrameProgress  # noqa: E402
from vmem.video import VideoReadError, VideoWriteError, VideoWriter, open_video  # noqa: E402
from vmem.visualization import DetectionDrawer  # noqa: E402

from demo.box_tracking import is_prompted_tracker, read_box_prompts, start_tracking  # noqa: E402

WINDOW = 'vmem video demo'
DEFAULT_FPS = 25.0  # for sources that report none (frame folders, some webcams)
INTERRUPTED = 130  # the shell's exit status for Ctrl-C
QUIT_KEYS = (27, ord('q'))  # Esc, q
# Failures a user can fix (paths, devices, configs, checkpoints): one line, exit status 1.
USER_ERRORS = (FileNotFoundError, IsADirectoryError, PermissionError, VideoReadError, VideoWriteError,
               ValueError)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Run a vmem model on a video, frame folder or webcam')
    parser.add_argument('source', help='video file, frame folder, image, or webcam index (0)')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', nargs='?', help='weights (.pth); random weights without')
    parser.add_argument('--out', help='write the drawn frames to this .mp4 file')
    parser.add_argument('--show', action='store_true', help='show the drawn frames in a window')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw detections (tracked objects: presence) scoring at least this')
    parser.add_argument('--device', default='cpu', choices=DEVICES)
    parser.add_argument('--max-frames', type=int, help='stop after this many frames')
    # Parsed in run(), not by argparse types: a bad box is a one-line error (exit 1) like
    # every other input the user can fix, rather than argparse's usage dump (exit 2).
    parser.add_argument('--prompt-box', action='append', metavar='X1,Y1,X2,Y2',
                        help='trackers: a box around an object on the first frame (repeat for more objects)')
    parser.add_argument('--prompts', metavar='FILE.json',
                        help='trackers: first-frame boxes, [[x1, y1, x2, y2], ...] or {"<id>": [x1, y1, x2, y2]}')
    parser.add_argument('--camera', type=int, help='detectors with per-camera memory: the camera id of SOURCE')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config settings, e.g. model.memory_file=None')
    parser.add_argument('--start-time', help='with --camera: when SOURCE starts, ISO 8601 (default: now)')
    args = parser.parse_args(argv)
    if args.start_time is not None and args.camera is None:
        parser.error('--start-time needs --camera')
    if args.out is None and not args.show:
        parser.error('nothing to do: give --out FILE.mp4, --show, or both')
    if args.max_frames is not None and args.max_frames < 1:
        parser.error(f'--max-frames must be >= 1, got {args.max_frames}')
    if not 0.0 <= args.score_thr <= 1.0:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    return args


def check_output_path(path: str) -> None:
    """Fail before any work when the video could not be written."""
    if Path(path).suffix.lower() != '.mp4':
        raise ValueError(f'--out {path}: the output must be an .mp4 file')
    if os.path.isdir(path):
        raise IsADirectoryError(f'--out {path} is a folder; give a file name ending in .mp4')
    parent = Path(path).resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PermissionError(f'--out {path}: cannot create folder {parent}: {error.strerror}') from error
    if not os.access(parent, os.W_OK):
        raise PermissionError(f'--out {path}: folder {parent} is not writable')


def check_display() -> None:
    if sys.platform.startswith('linux') and not (os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')):
        raise ValueError('--show needs a display, and none is set (DISPLAY); use --out to write a video instead')


def run(args: argparse.Namespace) -> int:
    boxes = read_box_prompts(box_texts=args.prompt_box, prompts_file=args.prompts)
    if args.out is not None:
        check_output_path(args.out)
    if args.show:
        check_display()
    register_all_modules()
    source = open_video(args.source)
    writer = None
    progress = FrameProgress(total=min(source.num_frames, args.max_frames or source.num_frames)
                             if source.num_frames is not None else None)
    interrupted = False
    try:
        model = init_model(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options)
        predictions, drawer = start_predictions(model, source, boxes=boxes, args=args)
        if args.out is not None:
            size = (source.width, source.height) if source.width > 0 and source.height > 0 else None
            writer = VideoWriter(args.out, fps=source.fps or DEFAULT_FPS, frame_size=size)
        live = source.num_frames is None
        for frame, instances in predictions:
            drawn = drawer.draw(frame, instances)
            progress.update()
            if live:
                drawn = drawer.draw_banner(drawn, f'{progress.live_fps:.1f} fps')
            if writer is not None:
                writer.write(drawn)
            if args.show and show(drawn):
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
        if writer is not None:
            writer.close()  # finishes the mp4, so what was written so far plays
        source.close()
        if args.show:
            import cv2
            cv2.destroyAllWindows()
    written = f'; {writer.num_written} frames written to {args.out}' if writer is not None else ''
    if interrupted:
        print(f'interrupted after {progress.count} frames{written}', file=sys.stderr)
        return INTERRUPTED
    print(f'{progress.count} frames of {source.name} at {progress.fps:.1f} fps{written}')
    return 0


def start_predictions(model, source, *, boxes: dict, args: argparse.Namespace):
    """(frame, instances) for each frame of ``source``, and a drawer for them: a detector's
    detections, or a tracker's objects, started from ``boxes`` on the first frame."""
    if is_prompted_tracker(model):
        if not boxes:
            raise ValueError(f'{args.config}: {type(model).__name__} tracks objects you give it: add '
                             '--prompt-box x1,y1,x2,y2 (once per object) or --prompts boxes.json')
        predictions = start_tracking(StreamingTracker(model), source, boxes=boxes, max_frames=args.max_frames)
        # Objects have ids, not classes: colour and caption come from the id.
        return predictions, DetectionDrawer(score_thr=args.score_thr)
    if boxes:
        raise ValueError(f'{args.config}: {type(model).__name__} is not a tracker and takes no '
                         '--prompt-box/--prompts; they are for trackers (e.g. configs/sam2/)')
    inferencer = VideoInferencer(model=model)
    start = None if args.start_time is None else parse_timestamp(args.start_time, where='--start-time')
    predictions = ((result.frame, result.instances) for result in
                   inferencer(source, max_frames=args.max_frames, camera=args.camera, start_time=start))
    return predictions, DetectionDrawer(class_names=inferencer.class_names, score_thr=args.score_thr)


def show(frame) -> bool:
    """Show an RGB frame; True when the user asked to quit."""
    import cv2
    cv2.imshow(WINDOW, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return (cv2.waitKey(1) & 0xFF) in QUIT_KEYS


def one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return '; '.join(lines) or type(error).__name__


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except USER_ERRORS as error:
        print(f'video_demo.py: error: {one_line(error)}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())

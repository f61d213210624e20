"""Real videos through every kind of model vmem has, frame by frame, as the demo runs them.

    python tools/benchmark/real_videos.py                       # bikes.mp4 and bigbuckbunny.mp4 (make assets)
    python tools/benchmark/real_videos.py --videos /usr/share/doc/opencv-doc/examples/data/vtest.avi

Per model and video: frames read and frames written (the drawn mp4), the median time per
frame, and the resident memory after the first and the last quarter of the frames (a
stream's memory must stay bounded). The models, each through its streaming API:

* ``faster_rcnn``: torchvision's COCO Faster R-CNN architecture
  (``faster_rcnn_r50_fpn_coco.py``) with ``vmem.apis.VideoInferencer``;
* ``mamba``: MAMBA with instance memory on it (``mamba_ins_r50_fpn_imagenetvid_from_coco.py``),
  online, memory over the whole video;
* ``sam2``: the SAM 2-style tracker (``StreamingTracker``) from a box on the first frame;
* ``patchcore``: PatchCore on torchvision's real ImageNet MobileNetV2, its bank built from the
  video's first ``--bank-seconds`` seconds, then scoring every later frame (``AnomalyInferencer``).

Without COCO or SAM 2 weights (none can be downloaded here) the detectors and the tracker
run with random weights: the work per frame, and so time and memory, is the same.
``--short-side`` sets the detectors' test resize (COCO's is 800).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from vmem.apis.benchmark import machine_description, process_rss_bytes  # noqa: E402

MODELS = ('faster_rcnn', 'mamba', 'sam2', 'patchcore')
CONFIGS = {'faster_rcnn': 'configs/faster_rcnn/faster_rcnn_r50_fpn_coco.py',
           'mamba': 'configs/mamba/mamba_ins_r50_fpn_imagenetvid_from_coco.py',
           'sam2': 'configs/sam2/sam2_tiny_synthvid.py',
           'patchcore': 'configs/patchcore/patchcore_mobilenetv2_real_textures.py'}


@dataclass
class VideoRun:
    model: str
    video: str
    frames_in: int
    frames_out: int
    median_ms: float
    rss_first_mib: float
    rss_last_mib: float


def _set_resize(pipeline: list, short_side: int) -> None:
    for step in pipeline:
        if step.get('type') == 'Resize':
            step['scale'] = (int(short_side * 1333 / 800), short_side)
        if 'transforms' in step:  # ApplyToFrames
            _set_resize(step['transforms'], short_side)


def detector(name: str, short_side: int):
    from mmengine.config import Config

    from vmem.apis import VideoInferencer, init_model
    cfg = Config.fromfile(str(ROOT / CONFIGS[name]))
    _set_resize(cfg.test_dataloader.dataset.pipeline, short_side)
    inferencer = VideoInferencer(model=init_model(cfg))
    inferencer._start_video()

    def step(index: int, frame: np.ndarray, video_length: int):
        return inferencer.predict_frame(frame, video_id=0, frame_id=index, video_length=video_length)
    return step


def tracker(first_frame: np.ndarray):
    from vmem.apis import StreamingTracker, init_model
    streaming = StreamingTracker(init_model(str(ROOT / CONFIGS['sam2'])))
    height, width = first_frame.shape[:2]
    box = [width * 0.35, height * 0.3, width * 0.65, height * 0.8]  # the middle of the frame

    def step(index: int, frame: np.ndarray, video_length: int):
        return streaming.track(frame, boxes={1: box} if index == 0 else None)
    return step


def anomaly_scorer(frames: list, fps: float, bank_seconds: float):
    """PatchCore with its bank from the first seconds' frames; later frames are scored."""
    from mmengine.config import Config

    from vmem.apis import AnomalyInferencer
    from vmem.registry import MODELS
    from vmem.utils.assets import asset_path
    cfg = Config.fromfile(str(ROOT / CONFIGS['patchcore']))
    cfg.model.backbone.init_cfg.checkpoint = str(asset_path('mobilenet_v2-b0353104.pth'))
    model = MODELS.build(cfg.model)
    model.features.backbone.init_weights()  # the real file (the model's own init_weights logs every tensor)
    model.eval()
    num_bank = min(max(1, int(round(bank_seconds * fps))), len(frames) // 2)  # at least half is scored
    size = cfg.image_size if 'image_size' in cfg else 224
    with torch.no_grad():
        images = torch.stack([torch.from_numpy(np.ascontiguousarray(
            _resize(frame, size))).permute(2, 0, 1).float() for frame in frames[:num_bank]])
        patches = model.features(model.data_preprocessor({'inputs': list(images)}, False)['inputs'])
        model.build_memory(patches.permute(0, 2, 3, 1).reshape(-1, patches.shape[1]))
    model.cfg = cfg  # what init_model attaches; the inferencer reads the test pipeline from it
    inferencer = AnomalyInferencer(model=model)

    def step(index: int, frame: np.ndarray, video_length: int):
        return inferencer.predict(frame, source=f'frame {index}')
    return step, num_bank


def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    import cv2
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR)


def read_video(path: str, max_frames: int | None) -> tuple[list, float]:
    from vmem.video import open_video
    frames = []
    with open_video(path) as source:
        fps = float(getattr(source, 'fps', None) or 25.0)
        for frame in source:
            frames.append(frame)
            if max_frames and len(frames) >= max_frames:
                break
    return frames, fps


def run(model: str, video: str, args, out_dir: Path) -> VideoRun:
    from vmem.video import VideoWriter
    frames, fps = read_video(video, args.max_frames)
    first = 0
    if model in ('faster_rcnn', 'mamba'):
        step: Callable = detector(model, args.short_side)
    elif model == 'sam2':
        step = tracker(frames[0])
    else:
        step, first = anomaly_scorer(frames, fps, args.bank_seconds)
    times, rss = [], []
    out_path = out_dir / f'{model}_{Path(video).stem}.mp4'
    written = 0
    with VideoWriter(str(out_path), fps=fps) as writer:
        for index, frame in enumerate(frames[first:], start=first):
            start = time.perf_counter()
            with torch.no_grad():
                step(index, frame, len(frames))
            times.append(time.perf_counter() - start)
            rss.append(process_rss_bytes())
            writer.write(frame)  # the demo draws on it; drawing is not what is measured here
            written += 1
    quarter = max(1, len(rss) // 4)
    return VideoRun(model, Path(video).name, len(frames) - first, written, 1000 * statistics.median(times),
                    np.mean(rss[:quarter]) / 2 ** 20, np.mean(rss[-quarter:]) / 2 ** 20)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--videos', nargs='+', help='video files (default: the bikes.mp4 and bigbuckbunny.mp4 assets)')
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS)
    parser.add_argument('--max-frames', type=int, help='read at most this many frames of each video')
    parser.add_argument('--short-side', type=int, default=480, help="the detectors' test resize (COCO: 800)")
    parser.add_argument('--bank-seconds', type=float, default=2.0, help="PatchCore's bank: the first seconds")
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--out-dir', default='work_dirs/real_videos')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.videos:
        from vmem.utils.assets import asset_path
        args.videos = [str(asset_path('bikes.mp4')), str(asset_path('bigbuckbunny.mp4'))]
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f'# real videos, {machine_description("cpu")}; '
          f'detectors at short side {args.short_side}, '
          f'random weights except PatchCore (real ImageNet MobileNetV2)')
    print('| model | video | frames in | frames out | ms / frame (median) | RSS MiB first / last quarter |')
    print('|---|---|---|---|---|---|')
    failures = 0
    for video in args.videos:
        for model in args.models:
            result = run(model, video, args, out_dir)
            failures += result.frames_in != result.frames_out
            print(f'| {result.model} | {result.video} | {result.frames_in} | {result.frames_out} | '
                  f'{result.median_ms:.0f} | {result.rss_first_mib:.0f} / {result.rss_last_mib:.0f} |', flush=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

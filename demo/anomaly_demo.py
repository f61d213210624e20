"""Anomaly heat maps for an image, a folder of images or a video, frame by frame.

    python demo/anomaly_demo.py SOURCE CONFIG CHECKPOINT [--out OUT] [--score-max S]
                                [--threshold T] [--device cpu|cuda]

SOURCE is an image, a folder of images or a video file. With ``--out``, images and folders
write one overlay PNG per image into the folder OUT; a video writes the overlaid video to
OUT (an .mp4 path). Every image's anomaly score is printed. ``--score-max`` sets the
level drawn in full red (default: twice the largest distance of a training patch to the
memory, stored in the checkpoint), ``--threshold`` outlines the pixels at or above it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from vmem.apis.anomaly_inference import AnomalyInferencer  # noqa: E402
from vmem.apis.model_init import DEVICES, init_model  # noqa: E402
from vmem.utils import register_all_modules  # noqa: E402
from vmem.video import IMAGE_EXTENSIONS, VideoWriter, open_video, write_image  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('source', help='an image, a folder of images or a video file')
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='the checkpoint tools/train.py wrote (it holds the memory bank)')
    parser.add_argument('--out', help='output folder (images) or video file (videos)')
    parser.add_argument('--score-max', type=float, default=None, help='anomaly level drawn in full red')
    parser.add_argument('--threshold', type=float, default=None, help='outline pixels at or above this level')
    parser.add_argument('--device', choices=DEVICES, default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    register_all_modules()
    source = Path(args.source)
    if not source.exists():
        sys.exit(f'error: {args.source!r} does not exist')
    model = init_model(args.config, args.checkpoint, device=args.device)
    inferencer = AnomalyInferencer(model=model, score_max=args.score_max)
    is_video = source.is_file() and source.suffix.lower() not in IMAGE_EXTENSIONS
    writer = None
    if is_video and args.out:
        with open_video(str(source)) as video:
            fps = video.fps or 25.0
        writer = VideoWriter(args.out, fps=fps)
    count = 0
    try:
        for prediction in inferencer(source):
            print(f'{prediction.source}\t{prediction.score:.4f}')
            count += 1
            if not args.out:
                continue
            overlay = inferencer.draw(prediction, threshold=args.threshold)
            if writer is not None:
                writer.write(overlay)
            else:
                write_image(Path(args.out) / f'{Path(prediction.source).stem}_anomaly.png', overlay)
    finally:
        if writer is not None:
            writer.close()
    print(f'{count} image(s) scored' + (f'; overlays in {args.out}' if args.out else ''))


if __name__ == '__main__':
    main()

"""How hard is SynthVID for one frame, and how much does temporal context give back?

    python tools/analysis/synthvid_difficulty.py                  # default run (~4 min on 2 cores)
    python tools/analysis/synthvid_difficulty.py --quick          # tiny smoke run
    python tools/analysis/synthvid_difficulty.py --synthvid degraded_fraction=0.5 \\
        --synthvid 'blur_kernel=[11, 31]'                          # a harder variant

No detector is involved: a small CNN classifies ground-truth box crops into the 8 classes.
It trains on the crops (clean and degraded) of every third frame of a ``train`` split and
is scored on every frame of a ``test`` split that the generator draws separately. "Temporal context" averages the
classifier's softmax over the same instance's crops in a window of frames, a stand-in for
what a memory model could recover by looking at the object's other frames. The table goes
to stdout; the numbers also go to ``<out-dir>/results_<variant>.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vmem.datasets.synthetic import (CLASS_NAMES, DEGRADATIONS, frames_dir,  # noqa: E402
                                     generate_synthvid)
from vmem.video import read_image  # noqa: E402

CLEAN = 'none'  # the generator's `degradation` value for an undegraded object-frame


@dataclass
class CropSet:
    """Box crops of one split and what is known about each."""
    images: np.ndarray  # uint8 (n, size, size, 3), RGB
    labels: np.ndarray  # int64 (n,), 0-based class index
    instance_ids: np.ndarray  # int64 (n,), unique within the split
    frame_ids: np.ndarray  # int64 (n,)
    degradations: np.ndarray  # str (n,): 'none' or a degradation kind

    def __len__(self) -> int:
        return len(self.labels)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', default='work_dirs/synthvid_difficulty',
                        help='generated data (cached) and results go here')
    parser.add_argument('--train-videos', type=int, default=144)
    parser.add_argument('--train-frame-stride', type=int, default=3,
                        help='train on every n-th frame: neighbouring frames are near copies, and '
                             'more videos at the same cost give the classifier more objects to learn from')
    parser.add_argument('--test-videos', type=int, default=24)
    parser.add_argument('--num-frames', type=int, default=48, help='frames per video')
    parser.add_argument('--epochs', type=int, default=12)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--lr', type=float, default=3e-3)
    parser.add_argument('--crop-size', type=int, default=40, help='side of the square crop, pixels')
    parser.add_argument('--context', type=float, default=0.1,
                        help='margin added on each side of the box, as a fraction of its longer side')
    parser.add_argument('--window', type=int, default=5, help='K of the +-K frame windows')
    parser.add_argument('--seed', type=int, default=0, help='SynthVID seed and torch seed')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--synthvid', action='append', default=[], metavar='KEY=VALUE',
                        help='a SynthVIDConfig setting for both splits (VALUE is json), repeatable')
    parser.add_argument('--quick', action='store_true', help='tiny data and one epoch: a smoke run')
    args = parser.parse_args(argv)
    if args.quick:
        args.train_videos, args.test_videos, args.num_frames, args.epochs = 3, 2, 16, 1
        args.train_frame_stride = 1
    for name in ('train_videos', 'train_frame_stride', 'test_videos', 'num_frames', 'epochs',
                 'batch_size', 'crop_size', 'window', 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {getattr(args, name)}')
    try:
        args.settings = parse_settings(args.synthvid)
    except ValueError as error:
        parser.error(str(error))
    return args


def parse_settings(items: list[str]) -> dict:
    """``['degraded_fraction=0.5', 'blur_kernel=[11, 31]']`` -> a dict of SynthVID settings."""
    settings = {}
    for item in items:
        key, sep, text = item.partition('=')
        if not sep or not key:
            raise ValueError(f'--synthvid expects KEY=VALUE, got {item!r}')
        try:
            settings[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            settings[key.strip()] = text  # a bare word, e.g. a degradation name
    return settings


def variant_name(settings: dict) -> str:
    """'default', or a short stable name for a set of overridden settings."""
    if not settings:
        return 'default'
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return f'custom_{digest}'


def generate_splits(data_dir: Path, *, train_videos: int, test_videos: int, num_frames: int,
                    seed: int, settings: dict) -> dict[str, Path]:
    """Both splits from one seed; the generator draws each split's videos separately, so the
    test videos are never training videos. Cached: same settings are not regenerated."""
    common = dict(settings, num_frames=num_frames, seed=seed, write_videos=False)
    return {split: generate_synthvid(data_dir, split=split, num_videos=count, **common)
            for split, count in (('train', train_videos), ('test', test_videos))}


def crop_square(frame: np.ndarray, bbox_xywh, *, size: int, context: float) -> np.ndarray:
    """A square crop centred on the box, resized to ``size``; outside the image is black.

    Square (not stretched to the box) so a disc stays round and a square stays square,
    also for boxes clipped at the image border."""
    x, y, w, h = (float(v) for v in bbox_xywh)
    side = max(w, h, 2.0) * (1.0 + 2.0 * context)
    left, top = x + w / 2.0 - side / 2.0, y + h / 2.0 - side / 2.0
    scale = size / side
    # Maps pixel centres: crop u + 0.5 sits at image position left + (u + 0.5) / scale.
    matrix = np.array([[scale, 0.0, scale * (0.5 - left) - 0.5],
                       [0.0, scale, scale * (0.5 - top) - 0.5]], np.float64)
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def load_crops(json_path: Path, image_root: Path, *, size: int, context: float,
               frame_stride: int = 1) -> CropSet:
    """Crops of every annotated object in frames whose frame_id is a multiple of frame_stride."""
    dataset = json.loads(Path(json_path).read_text())
    category_index = {c['id']: CLASS_NAMES.index(c['name']) for c in dataset['categories']}
    by_image: dict[int, list[dict]] = {}
    for ann in dataset['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    images, labels, instances, frames, kinds = [], [], [], [], []
    for image in dataset['images']:
        anns = by_image.get(image['id'], [])
        if not anns or image['frame_id'] % frame_stride:
            continue
        frame = read_image(image_root / image['file_name'])
        for ann in anns:
            images.append(crop_square(frame, ann['bbox'], size=size, context=context))
            labels.append(category_index[ann['category_id']])
            instances.append(ann['instance_id'])
            frames.append(image['frame_id'])
            kinds.append(ann.get('degradation', CLEAN) if ann.get('degraded') else CLEAN)
    if not images:
        raise ValueError(f'{json_path}: no annotations to crop')
    return CropSet(images=np.stack(images), labels=np.asarray(labels, np.int64),
                   instance_ids=np.asarray(instances, np.int64), frame_ids=np.asarray(frames, np.int64),
                   degradations=np.asarray(kinds))


def build_classifier(num_classes: int = len(CLASS_NAMES)) -> nn.Module:
    """A small VGG-style net: one cheap conv at full resolution, then three stages that each
    halve the resolution; a few seconds per epoch on 2 CPU cores."""
    def conv(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True)]
    return nn.Sequential(
        *conv(3, 24), nn.MaxPool2d(2), *conv(24, 32), *conv(32, 32), nn.MaxPool2d(2),
        *conv(32, 64), *conv(64, 64), nn.MaxPool2d(2), *conv(64, 96), *conv(96, 96),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, num_classes))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5)


def random_similarity(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per crop: any rotation, a mirror half the time, +-15% scale and +-8% shift."""
    n = batch.shape[0]
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    scale = 1.0 + 0.3 * (torch.rand(n, generator=generator) - 0.5)
    mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    shift = 0.16 * (torch.rand(n, 2, generator=generator) - 0.5)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * mirror, -sin, shift[:, 0]], 1),
                         torch.stack([sin * mirror, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    # Zeros in the normalised input are mid-grey; pad with black like the crops' outside.
    return F.grid_sample(batch + 0.5, grid, align_corners=False) - 0.5


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Rotations, mirrors, zoom, shifts and colour changes: objects spin in the videos and their colours
    are drawn independently of the class, so none of these changes the label. Without the
    colour changes the net learns each training object's colours instead of shape + texture."""
    n = batch.shape[0]
    batch = random_similarity(batch, generator)
    channel_order = torch.argsort(torch.rand(n, 3, generator=generator), dim=1)
    batch = torch.gather(batch, 1, channel_order[:, :, None, None].expand_as(batch))
    gain = 1.0 + 0.4 * (torch.rand(n, 3, 1, 1, generator=generator) - 0.5)
    shift = 0.2 * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    return batch * gain + shift


def train_classifier(crops: CropSet, *, epochs: int, batch_size: int, lr: float, seed: int,
                     log=print) -> nn.Module:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_classifier()
    inputs, labels = to_tensor(crops.images), torch.from_numpy(crops.labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(crops) + batch_size - 1) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(crops), generator=generator)
        total_loss, correct = 0.0, 0
        for start in range(0, len(crops), batch_size):
            index = order[start:start + batch_size]
            logits = model(augment(inputs[index], generator))
            loss = F.cross_entropy(logits, labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(index)
            correct += int((logits.argmax(1) == labels[index]).sum())
        log(f'epoch {epoch + 1}/{epochs}: train loss {total_loss / len(crops):.3f}, '
            f'train accuracy {correct / len(crops):.3f}')
    return model.eval()


@torch.no_grad()
def predict_probabilities(model: nn.Module, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    parts = [F.softmax(model(to_tensor(images[i:i + batch_size])), dim=1)
             for i in range(0, len(images), batch_size)]
    return torch.cat(parts).numpy()


def temporal_average(probabilities: np.ndarray, instance_ids: np.ndarray, frame_ids: np.ndarray, *,
                     before: int | None, after: int | None) -> np.ndarray:
    """Mean softmax over the same instance's crops with frame_id in [f - before, f + after]
    (``None``: unbounded on that side). Frames where the object is not annotated are just
    absent, so a window may hold fewer than before + after + 1 crops."""
    averaged = np.empty_like(probabilities)
    for instance in np.unique(instance_ids):
        rows = np.flatnonzero(instance_ids == instance)
        rows = rows[np.argsort(frame_ids[rows], kind='stable')]
        frames = frame_ids[rows]
        cumulative = np.concatenate([np.zeros((1, probabilities.shape[1])),
                                     np.cumsum(probabilities[rows], axis=0)])
        low = (np.zeros(len(rows), np.int64) if before is None
               else np.searchsorted(frames, frames - before, 'left'))
        high = (np.full(len(rows), len(rows), np.int64) if after is None
                else np.searchsorted(frames, frames + after, 'right'))
        averaged[rows] = (cumulative[high] - cumulative[low]) / (high - low)[:, None]
    return averaged


def accuracy_by_group(predictions: np.ndarray, crops: CropSet) -> dict[str, float | None]:
    """Accuracy on clean crops, on all degraded crops and per degradation kind (None if none)."""
    correct = predictions == crops.labels
    groups = {'all': np.ones(len(crops), bool), 'clean': crops.degradations == CLEAN,
              'degraded': crops.degradations != CLEAN}
    groups.update({kind: crops.degradations == kind for kind in DEGRADATIONS})
    return {name: (float(correct[mask].mean()) if mask.any() else None) for name, mask in groups.items()}


def evaluate(model: nn.Module, crops: CropSet, *, window: int) -> dict[str, dict]:
    probabilities = predict_probabilities(model, crops.images)
    methods = {
        'single_frame': probabilities,
        f'window_pm{window}': temporal_average(probabilities, crops.instance_ids, crops.frame_ids,
                                               before=window, after=window),
        f'past_{window}_online': temporal_average(probabilities, crops.instance_ids, crops.frame_ids,
                                                  before=window, after=0),
        'whole_track': temporal_average(probabilities, crops.instance_ids, crops.frame_ids,
                                        before=None, after=None),
    }
    return {name: accuracy_by_group(scores.argmax(1), crops) for name, scores in methods.items()}


def gap_recovered(accuracy: dict[str, dict]) -> dict[str, float | None]:
    """Share of the single-frame clean-vs-degraded gap that each temporal method closes."""
    single = accuracy['single_frame']
    gap = single['clean'] - single['degraded'] if single['degraded'] is not None else 0.0
    return {name: ((row['degraded'] - single['degraded']) / gap if gap > 0 else None)
            for name, row in accuracy.items() if name != 'single_frame'}


def group_counts(crops: CropSet) -> dict[str, int]:
    counts = {'all': len(crops), 'clean': int((crops.degradations == CLEAN).sum()),
              'degraded': int((crops.degradations != CLEAN).sum())}
    counts.update({kind: int((crops.degradations == kind).sum()) for kind in DEGRADATIONS})
    return counts


def markdown_table(accuracy: dict[str, dict], counts: dict[str, int]) -> str:
    columns = ['clean', 'degraded', *DEGRADATIONS, 'all']
    lines = ['| test accuracy | ' + ' | '.join(f'{c} (n={counts[c]})' for c in columns) + ' |',
             '|---' * (len(columns) + 1) + '|']
    for name, row in accuracy.items():
        cells = ['-' if row[c] is None else f'{row[c]:.3f}' for c in columns]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    variant = variant_name(args.settings)
    out_dir = Path(args.out_dir)
    data_dir = out_dir / 'data' / variant
    try:
        jsons = generate_splits(data_dir, train_videos=args.train_videos, test_videos=args.test_videos,
                                num_frames=args.num_frames, seed=args.seed, settings=args.settings)
    except (TypeError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    strides = {'train': args.train_frame_stride, 'test': 1}  # the test split is scored on every frame
    crops = {split: load_crops(path, frames_dir(data_dir, split), size=args.crop_size, context=args.context,
                               frame_stride=strides[split])
             for split, path in jsons.items()}
    prepared = time.perf_counter()
    print(f'data ({variant}): {len(crops["train"])} train crops, {len(crops["test"])} test crops, '
          f'{prepared - started:.1f} s')
    model = train_classifier(crops['train'], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             seed=args.seed)
    trained = time.perf_counter()
    accuracy = evaluate(model, crops['test'], window=args.window)
    counts = group_counts(crops['test'])
    table = markdown_table(accuracy, counts)
    recovered = gap_recovered(accuracy)
    wall = time.perf_counter() - started
    print(table)
    print('share of the clean-degraded gap closed on degraded crops: '
          + ', '.join(f'{name} {"-" if v is None else f"{v:.2f}"}' for name, v in recovered.items()))
    print(f'wall time {wall:.1f} s (training {trained - prepared:.1f} s)')
    results = {
        'variant': variant, 'synthvid_settings': args.settings,
        'args': {k: v for k, v in vars(args).items() if k not in ('settings', 'synthvid')},
        'train_counts': group_counts(crops['train']), 'test_counts': counts,
        'accuracy': accuracy, 'gap_recovered': recovered, 'table_markdown': table,
        'wall_time_s': round(wall, 2), 'train_time_s': round(trained - prepared, 2),
        'machine': {'platform': platform.platform(), 'torch_threads': torch.get_num_threads(),
                    'torch': torch.__version__},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = out_dir / f'results_{variant}.json'
    result_path.write_text(json.dumps(results, indent=2))
    print(f'results -> {result_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Per-frame time of Context R-CNN against its single-frame base, by bank size.

    python tools/benchmark/context_rcnn_speed.py [--bank-sizes 100 1000 10000] [--num-keys 32] \
        [--checkpoint BASE_CKPT] [--frames 30] [--repeats 5] [--threads 1] [--short-term SECONDS] \
        [--cfg-options model.attention.bottleneck_dim=128 ...]

The base (``faster_rcnn_r10t_synthvid_tiny.py``) and Context R-CNN
(``context_rcnn_r10t_synthvid_tiny.py``, offline: a static bank) run the same SynthVID frames
with the same detector weights. The camera's bank is filled with ``size`` entries within
a month of the frames (so all are within the horizon and read). Those around the frames'
own times come at most at the density of a 10-fps stream writing 8 per frame, so a
short-term attention (``--short-term SECONDS`` adds one, with the config's attention
settings) reads what it would on a live camera; the rest are spread over the month.
Entries are random, which costs what real ones cost. Runs are interleaved (base, then each variant,
``--repeats`` times) and each variant's time is the median over frames and repeats.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from vmem.apis import init_model  # noqa: E402
from vmem.apis.benchmark import frame_data, machine_description, synthetic_frames  # noqa: E402
from vmem.utils import register_all_modules  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py')
CONTEXT = osp.join(ROOT, 'configs/context_rcnn/context_rcnn_r10t_synthvid_tiny.py')
CAMERA, NOW = 3, 1_717_200_000.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--bank-sizes', type=int, nargs='+', default=[100, 1000, 10000])
    parser.add_argument('--num-keys', type=int, default=32, help='keys per RoI in sparse mode')
    parser.add_argument('--checkpoint', help='base detector weights for both (default: random weights)')
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--short-term', type=float, metavar='SECONDS',
                        help="add a short-term attention over this window (the config has none)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE', default={},
                        help='overrides of the Context R-CNN config (e.g. its attention settings)')
    return parser.parse_args(argv)


def load_base_weights(model, checkpoint):
    from vmem.utils.weights_loading import read_state_dict
    state = read_state_dict(checkpoint)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any('aggregator' not in key for key in missing):   # the attention blocks are new
        raise ValueError(f'{checkpoint} is not a weights file of the tiny SynthVID detector')


STREAM_ENTRIES_PER_SECOND = 10 * 8   # a 10-fps camera keeping 8 detections per frame


def context_model(size, num_keys, checkpoint, span_s, short_term=None, cfg_options=None):
    """Context R-CNN with ``size`` entries; ``span_s``: the seconds the timed frames cover."""
    options = {'model.memory_file': None, 'model.camera_memory.capacity': max(size, 1),
               'model.attention.num_keys': num_keys}
    if short_term:
        options['+model.short_term'] = dict(window=short_term)
    options.update(cfg_options or {})
    model = init_model(CONTEXT, None, cfg_options=options)
    if checkpoint:
        load_base_weights(model, checkpoint)
    torch.manual_seed(0)
    aggregator, after_rpn = model.roi_head.box_head.aggregators['1'], model.roi_head.box_head.roi_aggregator
    for attention in (aggregator.attention, aggregator.short_attention, after_rpn and after_rpn.attention):
        if attention is not None:
            torch.nn.init.normal_(attention.out.weight, std=0.01)
    memory = model.camera_memory
    generator = torch.Generator().manual_seed(size)
    nearby = min(size, int(STREAM_ENTRIES_PER_SECOND * span_s))
    for start in range(0, size, 1000):
        count = min(1000, size - start)
        offsets = (torch.rand(count, generator=generator, dtype=torch.float64) - 0.5) * 20 * 86400
        near = torch.arange(start, start + count) < nearby
        offsets[near] = torch.rand(int(near.sum()), generator=generator, dtype=torch.float64) * span_s
        times = NOW + offsets
        entries = torch.randn(count, memory.entry_dim, generator=generator).abs()
        memory.bank.write(CAMERA, entries, time=times, image_id=-1, video_id=-1, score=torch.ones(count))
    return model.eval()


def time_frames(model, frames, warmup):
    seconds = []
    with torch.no_grad():
        for index, frame in enumerate(frames[:warmup] + frames):
            data = frame_data(frame, video_id=0, frame_id=index, video_length=len(frames))
            data['data_samples'][0].set_metainfo(dict(camera=CAMERA, timestamp=NOW + index))
            start = time.perf_counter()
            model.test_step(data)
            if index >= warmup:
                seconds.append(time.perf_counter() - start)
    return seconds


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    register_all_modules()
    frames = synthetic_frames(width=256, height=192, num_frames=args.frames)
    base = init_model(BASE, args.checkpoint)
    variants = {'single-frame base': base}
    for size in args.bank_sizes:
        for name, num_keys in (('full attention', None), (f'top-{args.num_keys} sparse', args.num_keys)):
            variants[f'{size} entries, {name}'] = context_model(size, num_keys, args.checkpoint,
                                                                span_s=args.warmup + args.frames,
                                                                short_term=args.short_term,
                                                                cfg_options=args.cfg_options)
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, model in variants.items():
            times[name] += time_frames(model, frames, args.warmup)
    base_ms = 1000 * statistics.median(times['single-frame base'])
    print(f'# {machine_description("cpu")}; SynthVID 256x192, {args.frames} frames x {args.repeats} runs, '
          f'weights: {args.checkpoint or "random"}'
          f'{f"; plus a {args.short_term:g} s short-term attention" if args.short_term else ""}'
          f'{"; " + " ".join(f"{k}={v}" for k, v in args.cfg_options.items()) if args.cfg_options else ""}')
    print('| model | ms / frame (median) | / base |')
    print('|---|---|---|')
    for name, values in times.items():
        ms = 1000 * statistics.median(values)
        print(f'| {name} | {ms:.1f} | {ms / base_ms:.2f}x |')
    return 0


if __name__ == '__main__':
    sys.exit(main())

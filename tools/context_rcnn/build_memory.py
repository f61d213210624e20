"""Build Context R-CNN's per-camera memory for one split with a frozen detector.

    python tools/context_rcnn/build_memory.py CONFIG CHECKPOINT --split train|val|test --out FILE.safetensors

CONFIG is a Context R-CNN config (its data and ``camera_memory`` settings are used);
CHECKPOINT the detector whose box features fill the bank: the single-frame base, or a
Context R-CNN checkpoint trained with ``freeze_detector`` (its detector is the base's).
The split's frames go through the config's test pipeline; no labels are read. The file
holds up to ``--capacity`` entries per camera; a model subsamples it to its own capacity.
"""
import argparse
import copy
import os.path as osp
import sys
import time
import warnings

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.runner_args import load_config  # noqa: E402

# A detector's own weights may lack these (a base checkpoint has no attention yet).
OPTIONAL_PREFIX = 'roi_head.box_head.aggregators.'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--split', choices=('train', 'val', 'test'), required=True,
                        help="whose frames: the dataset of the config's train/val/test dataloader")
    parser.add_argument('--out', required=True, help='output .safetensors file')
    parser.add_argument('--capacity', type=int, default=10000, help='entries kept per camera (default 10000)')
    parser.add_argument('--max-per-frame', type=int, help="detections per frame (default: the config's)")
    parser.add_argument('--score-thr', type=float, help="lowest score stored (default: the config's)")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config settings, as in tools/test.py')
    return parser.parse_args(argv)


def split_dataloader(cfg, split: str) -> dict:
    """The test dataloader pointed at ``split``'s annotations (test pipeline, in order)."""
    loader = copy.deepcopy(cfg.test_dataloader)
    source = cfg.get(f'{split}_dataloader')
    if source is None:
        raise ValueError(f'the config has no {split}_dataloader')
    for key in ('data_root', 'ann_file', 'data_prefix'):
        if key in source.dataset:
            loader.dataset[key] = copy.deepcopy(source.dataset[key])
    loader.dataset['test_mode'] = True
    return loader


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    from mmengine.config import ConfigDict
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from vmem.apis import build_camera_memory, init_model
    from vmem.models.memory import CameraMemory
    from vmem.utils.weights_loading import load_model_weights, read_checkpoint

    cfg = load_config(args.config, args.cfg_options)
    cfg.model.memory_file = None   # the bank is what we make here
    model = init_model(cfg, None, device=args.device)
    with warnings.catch_warnings():   # a partial match is expected here and checked below
        warnings.simplefilter('ignore', UserWarning)
        mismatch = load_model_weights(model, args.checkpoint, strict=False, checkpoint=read_checkpoint(args.checkpoint))
    if mismatch.unexpected or mismatch.wrong_shape or any(not k.startswith(OPTIONAL_PREFIX) for k in mismatch.missing):
        print(f'error: {args.checkpoint} is not a detector for {args.config}:\n{mismatch.describe()}', file=sys.stderr)
        return 2
    settings = ConfigDict(cfg.model.get('camera_memory') or {})
    memory = CameraMemory(feature_dim=model.roi_head.box_head.out_channels, capacity=args.capacity, horizon=None,
                          max_per_frame=args.max_per_frame or settings.get('max_per_frame', 8),
                          score_thr=args.score_thr if args.score_thr is not None else settings.get('score_thr', 0.5),
                          num_classes=settings.get('num_classes', 0))
    with DefaultScope.overwrite_default_scope('vmem'):
        loader = Runner.build_dataloader(split_dataloader(cfg, args.split))
    start = time.perf_counter()
    total = len(loader.dataset)

    def progress(done):
        if done % 500 == 0 or done == total:
            print(f'{done}/{total} frames, {len(memory)} entries, {time.perf_counter() - start:.0f} s', flush=True)

    report = build_camera_memory(model, loader, memory, progress=progress)
    memory.save(args.out)
    sizes = ', '.join(f'{camera}: {memory.size(camera)}' for camera in memory.cameras)
    print(f'{report.frames} frames -> {report.entries_written} entries written; kept per camera {{{sizes}}}; '
          f'skipped {report.frames_without_camera} frames without a camera, '
          f'{report.frames_without_time} without a time -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

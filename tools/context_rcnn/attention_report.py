"""What Context R-CNN's RoIs attend to: the same object, the same class, or neither.

    python tools/context_rcnn/attention_report.py CONFIG CHECKPOINT --bank FILE.safetensors \
        [--every 40] [--cfg-options test_dataloader.dataset.ann_file=...]

Runs the model over every ``--every``-th frame of the config's test split (offline, with the
bank) and sorts its RoIs by the ground truth they cover (IoU >= 0.5): objects in clean
frames, objects in degraded ones, background. Each bank entry is matched the same way to
the ground truth of the frame it came from. For each kind it prints the attention weight on
entries of the same object (SynthVID's ``roster_member``: the same recurring object of the
camera) and of the same class, next to those entries' share of what the RoI could read
(what uniform attention would give), and how often the top entry is the same object.
Needs annotations with ``roster_member`` (SynthVID with ``--camera-roster``); reads labels,
so it is a diagnosis, not an evaluation.
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import torch
from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout
from vmem.apis.context_matching import ObjectIdentities, entry_matches  # noqa: E402
from vmem.utils.runner_args import load_config  # noqa: E402

KINDS = ('clean', 'degraded', 'background')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--bank', required=True, help='the split\'s bank (tools/context_rcnn/build_memory.py)')
    parser.add_argument('--every', type=int, default=40, help='use every n-th frame (default 40)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE', default={})
    return parser.parse_args(argv)


def attention_report(model, dataset, truth: ObjectIdentities, every: int) -> dict:
    """Per kind of RoI: counts and summed weights (see the module docstring)."""
    aggregator = model.roi_head.box_head.aggregators['1']
    attention, seen = aggregator.attention, {}
    attend, weights = aggregator._attend, attention._weights

    def record_attend(attn, key, features, query_input, rois, reads):
        seen.update(rois=rois, read=reads[0])
        return attend(attn, key, features, query_input, rois, reads)

    def record_weights(cosines):
        seen['weights'] = weights(cosines)
        return seen['weights']

    aggregator._attend, attention._weights = record_attend, record_weights
    totals = {kind: collections.Counter() for kind in KINDS}
    identities = {}
    try:
        with torch.no_grad():
            for index in range(0, len(dataset), every):
                sample = dataset[index]
                seen.clear()
                model.test_step({key: [value] for key, value in sample.items()})
                if 'weights' not in seen:
                    continue   # no memory for this frame's camera
                meta = sample['data_samples'].metainfo
                read, rois = seen['read'], seen['rois']
                # the weights' columns: the slots read, or the whole bank (masked) when most is read
                columns = read.slots if seen['weights'].shape[1] == len(read.slots) else torch.arange(read.capacity)
                readable = set(read.slots.tolist())
                wanted = [slot for slot in columns.tolist() if slot in readable and (read.camera, slot) not in identities]
                if wanted:
                    found = entry_matches(model.camera_memory, read.camera, torch.tensor(wanted), truth,
                                          (meta['img_shape'][1], meta['img_shape'][0]))
                    identities.update({(read.camera, slot): who for slot, who in zip(wanted, found)})
                column_ids = [identities.get((read.camera, slot)) if slot in readable else None
                              for slot in columns.tolist()]
                members = [c.identity if c else None for c in column_ids]
                classes = [c.category if c else None for c in column_ids]
                known = sum(c is not None for c in column_ids) or 1
                for row, match in enumerate(truth.match(meta['img_id'], rois[:, 1:])):
                    kind = 'background' if match is None else ('degraded' if match.degraded else 'clean')
                    total, w = totals[kind], seen['weights'][row]
                    total['rois'] += 1
                    total['null'] += 1 - float(w.sum())
                    if match is None:
                        continue
                    member, label = match.identity, match.category
                    same = torch.tensor([m == member for m in members])
                    same_class = torch.tensor([c == label for c in classes])
                    total['same'] += float(w[same].sum())
                    total['same_share'] += float(same.sum()) / known
                    total['class'] += float(w[same_class].sum())
                    total['class_share'] += float(same_class.sum()) / known
                    total['top1'] += int(members[int(w.argmax())] == member)
    finally:
        del aggregator._attend, attention._weights
    return totals


def format_report(totals: dict) -> str:
    lines = ['| RoIs on | RoIs | weight on the same object (uniform) | top entry the same object '
             '| weight on the same class (uniform) | weight on nothing |', '|---|---|---|---|---|---|']
    for kind in KINDS:
        total = totals[kind]
        n = total['rois']
        if not n:
            continue
        if kind == 'background':
            lines.append(f'| {kind} | {n} | - | - | - | {total["null"] / n:.2f} |')
            continue
        lines.append(f'| {kind} objects | {n} | {total["same"] / n:.2f} ({total["same_share"] / n:.2f}) | '
                     f'{total["top1"] / n:.2f} | {total["class"] / n:.2f} ({total["class_share"] / n:.2f}) | '
                     f'{total["null"] / n:.2f} |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.registry import DATASETS, DefaultScope

    from vmem.apis import init_model
    from vmem.utils import register_all_modules
    from vmem.utils.weights_loading import load_model_weights
    register_all_modules()
    cfg = load_config(args.config, {**args.cfg_options, 'model.memory_file': args.bank,
                                    'model.inference_mode': 'offline'})
    model = init_model(cfg, None)
    load_model_weights(model, args.checkpoint)
    model.eval()
    dataset_cfg = cfg.test_dataloader.dataset
    with DefaultScope.overwrite_default_scope('vmem'):
        dataset = DATASETS.build(dataset_cfg)
    truth = ObjectIdentities(str(Path(dataset_cfg.data_root) / dataset_cfg.ann_file))
    print(format_report(attention_report(model, dataset, truth, args.every)))
    return 0


if __name__ == '__main__':
    sys.exit(main())

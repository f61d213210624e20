"""Learn Context R-CNN's matching (which bank entries a RoI attends to) from object identities.

    python tools/context_rcnn/learn_matching.py CONFIG BASE_CKPT --bank TRAIN_BANK --out MATCHED_CKPT \
        [--identity roster_member] [--every 4] [--steps 500] \
        [--val-bank VAL_BANK --val-ann-file annotations/... --val-img-path .../frames]

Runs the frozen detector over every ``--every``-th frame of the config's train split (test
pipeline) and keeps its proposals that cover a labelled object. The attention's query
projection is then trained so that each such RoI's softmax over its camera's bank puts its
weight on entries of the same object (``--identity``: the annotation field naming it), and
the key projection is tied to it as ``matched_init`` would. MATCHED_CKPT holds the base
weights plus those two projections: train Context R-CNN from it (``load_from``) with
``learn_matching=False``. Retrieval quality (same-object top-1 and weight) is printed before
and after, on the train split and on a val split given with ``--val-*`` (paths relative to
the config's data root). Reads labels: a training step, like the detector's own training.
"""
import argparse
import copy
import os.path as osp
import sys
import warnings

import torch
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.runner_args import load_config  # noqa: E402

ATTENTION = 'roi_head.box_head.aggregators.1.attention.'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='the frozen single-frame detector (the banks were built with it)')
    parser.add_argument('--bank', required=True, help="the train split's bank (build_memory.py --split train)")
    parser.add_argument('--out', required=True, help='checkpoint to write: base weights + learned matching')
    parser.add_argument('--identity', default='roster_member', help='annotation field naming the object')
    parser.add_argument('--every', type=int, default=4, help='use every n-th train frame (default 4)')
    parser.add_argument('--per-frame', type=int, default=32, help='RoIs kept per frame (default 32)')
    parser.add_argument('--steps', type=int, default=500)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--val-bank', help='a val split\'s bank, to report retrieval on unseen cameras')
    parser.add_argument('--val-ann-file', help='its annotation file, relative to the data root')
    parser.add_argument('--val-img-path', help='its frame folder, relative to the data root')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE', default={})
    return parser.parse_args(argv)


def frames(dataset, every: int):
    for index in range(0, len(dataset), every):
        yield {key: [value] for key, value in dataset[index].items()}


def split_sets(model, cfg, bank: str, ann_file: str, img_path: str, args):
    """RoI and bank-entry sets of one split: its frames through the test pipeline."""
    from mmengine.registry import DATASETS, DefaultScope

    from vmem.apis.context_matching import ObjectIdentities, bank_sets, roi_sets
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset_cfg.update(ann_file=ann_file, data_prefix=dict(img_path=img_path), test_mode=True)
    with DefaultScope.overwrite_default_scope('vmem'):
        dataset = DATASETS.build(dataset_cfg)
    identities = ObjectIdentities(osp.join(dataset_cfg.data_root, ann_file), key=args.identity)
    model.camera_memory.load(bank)
    generator = torch.Generator().manual_seed(args.seed)
    rois = roi_sets(model, frames(dataset, args.every), identities, per_frame=args.per_frame, generator=generator)
    height, width = dataset[0]['data_samples'].metainfo['ori_shape'][:2]
    return rois, bank_sets(model.camera_memory, identities, (width, height))


def describe(quality: dict) -> str:
    return '; '.join(f'{kind} objects: top entry the same object {top:.3f}, weight on it {weight:.3f}'
                     for kind, (top, weight) in quality.items())


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    from vmem.apis import init_model
    from vmem.apis.context_matching import learn_matching, retrieval_quality
    from vmem.utils.weights_loading import load_model_weights, read_state_dict

    cfg = load_config(args.config, {**args.cfg_options, 'model.memory_file': None})
    torch.manual_seed(args.seed)
    model = init_model(cfg, None)
    with warnings.catch_warnings():   # the base has no attention weights yet
        warnings.simplefilter('ignore', UserWarning)
        load_model_weights(model, args.checkpoint, strict=False)
    model.eval()
    attention = model.roi_head.box_head.aggregators['1'].attention
    train = cfg.train_dataloader.dataset
    splits = {'train': split_sets(model, cfg, args.bank, train.ann_file, train.data_prefix['img_path'], args)}
    if args.val_bank:
        if not (args.val_ann_file and args.val_img_path):
            print('error: --val-bank needs --val-ann-file and --val-img-path', file=sys.stderr)
            return 2
        splits['val'] = split_sets(model, cfg, args.val_bank, args.val_ann_file, args.val_img_path, args)
    for name, (rois, entries) in splits.items():
        print(f'{name}: {sum(len(s.identity) for s in rois.values())} RoIs on objects; before: '
              f'{describe(retrieval_quality(attention, rois, entries))}', flush=True)
    history = learn_matching(attention, *splits['train'], steps=args.steps, lr=args.lr,
                             generator=torch.Generator().manual_seed(args.seed))
    print(f'loss {history[0]:.3f} -> {history[-1]:.3f} over {args.steps} steps')
    for name, (rois, entries) in splits.items():
        print(f'{name} after: {describe(retrieval_quality(attention, rois, entries))}')
    state = read_state_dict(args.checkpoint)
    for layer in ('query', 'key'):
        for part in ('weight', 'bias'):
            state[f'{ATTENTION}{layer}.{part}'] = getattr(getattr(attention, layer), part).detach().clone()
    torch.save({'state_dict': state, 'meta': {'learned_matching': vars(args)}}, args.out)
    print(f'-> {args.out} (train Context R-CNN from it with load_from and learn_matching=False)')
    return 0


if __name__ == '__main__':
    sys.exit(main())

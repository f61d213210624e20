"""What MoCo's queue and MoCHi's hard-negative mixing add to a training step.

    python tools/benchmark/moco_queue.py [--model resnet18] [--size 112] [--batch 256] \
        [--queue 65536] [--dim 128] [--steps 3] [--threads 2] [--device cpu]

Three models with the same backbone, head and batch, timed side by side (one step of each
in turn, ``--steps`` rounds after a warm-up round; the median per model):

* ``no queue``: MoCo with a 1-entry queue: the step without the memory's cost;
* ``MoCo``: the queue of ``--queue`` x ``--dim`` (read, logits, loss, enqueue);
* ``MoCHi``: the same plus hard-negative mixing (N=1024 via the shared ``topk``, s=1024,
  s'=512, the paper's largest setting).

A step is the whole ``train_step`` (preprocessing, momentum update, both encoders,
backward, SGD update). The overhead is ``MoCo / no queue - 1`` and ``MoCHi / no queue - 1``.
Smaller inputs make the backbone cheaper and the overhead larger, so the default 112 px is
a harder setting than MoCo's 224.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from vmem.apis.benchmark import machine_description  # noqa: E402
from vmem.utils import register_all_modules  # noqa: E402

MIXER = dict(type='HardNegativeMixer', num_hardest=1024, num_mixed=1024, num_query_mixed=512)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default='resnet18', help='timm backbone')
    parser.add_argument('--size', type=int, default=112, help='view size in pixels')
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--queue', type=int, default=65536)
    parser.add_argument('--dim', type=int, default=128)
    parser.add_argument('--steps', type=int, default=3, help='timed rounds after one warm-up round')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def build(args, queue_size, mixer):
    from mmengine.optim import OptimWrapper

    from vmem.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MoCo', backbone=dict(type='TimmBackbone', model_name=args.model, out_indices=(4,), norm_eval=False),
        projection_head=dict(hidden_dim=2048, out_dim=args.dim), queue_size=queue_size,
        hard_negative_mixer=mixer)).to(args.device).train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.03, momentum=0.9)
    return model, OptimWrapper(optimizer)


def timed_step(model, wrapper, data, device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    model.train_step(data, wrapper)
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=True)
    variants = {'no queue': build(args, 1, None), 'MoCo': build(args, args.queue, None),
                'MoCHi': build(args, args.queue, MIXER)}
    generator = torch.Generator().manual_seed(0)
    views = torch.randint(0, 256, (args.batch, 2, 3, args.size, args.size), dtype=torch.uint8, generator=generator)
    data = dict(inputs=list(views))
    times = {name: [] for name in variants}
    for round_index in range(args.steps + 1):
        for name, (model, wrapper) in variants.items():
            seconds = timed_step(model, wrapper, data, args.device)
            if round_index:  # round 0 warms up
                times[name].append(seconds)
    base = statistics.median(times['no queue'])
    print(f'# MoCo queue overhead: {args.model} at {args.size} px, batch {args.batch}, queue {args.queue} x '
          f'{args.dim}, {args.steps} steps each, {args.threads} threads, {args.device}')
    print(f"# {machine_description('cuda' if args.device.startswith('cuda') else 'cpu')}")
    print('| variant | step (s, median) | vs no queue |')
    print('|---|---|---|')
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f'| {name} | {median:.3f} | {median / base - 1:+.1%} |')


if __name__ == '__main__':
    main()

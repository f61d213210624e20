"""The quick-start job at this stage: the shared memory bank at work, no downloads.

A stream of synthetic "frames" is written into a bank with each write policy, then
queries retrieve their nearest stored features; finally vmem's `topk` is timed against
plain torch on one workload of each consumer (a shortened tools/benchmark/retrieval.py).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vmem.memory import GroupedMemoryBank, MemoryBank, greedy_coreset, topk  # noqa: E402


def banner(text: str) -> None:
    print(f'\n== {text}')


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    dim = 64
    # 5 "objects" whose features drift slightly from frame to frame.
    objects = torch.nn.functional.normalize(torch.randn(5, dim, generator=generator), dim=1)

    def frame_features(frame: int) -> torch.Tensor:
        noise = 0.05 * torch.randn(5, dim, generator=generator)
        return torch.nn.functional.normalize(objects + noise, dim=1)

    banner('FIFO queue (MoCo): capacity 32, 5 entries per frame, 20 frames')
    queue = MemoryBank(capacity=32, dim=dim, fields=dict(frame_id='int64'))
    for frame in range(20):
        queue.write(frame_features(frame), frame_id=frame)
    print('frames held:', sorted(set(queue.read().fields['frame_id'].tolist())))

    banner('random replacement (MAMBA): capacity 40, then a random key subset')
    mamba = MemoryBank(capacity=40, dim=dim, fields=dict(frame_id='int64', score='float32'),
                       write_policy='RandomReplace', seed=0)
    for frame in range(20):
        mamba.write(frame_features(frame), frame_id=frame, score=torch.rand(5, generator=generator))
    subset = mamba.sample(8)
    print('random key subset from frames:', subset.fields['frame_id'].tolist())
    print('3 highest-scoring entries:', [round(s, 2) for s in mamba.rank('score', 3).fields['score'].tolist()])

    banner('pinned prompt + ring of recent frames (SAM 2): capacity 7, 1 pinned')
    tracker = MemoryBank(capacity=7, dim=dim, fields=dict(frame_id='int64'),
                         write_policy=dict(type='PinnedRecent', max_pinned=1))
    tracker.write(frame_features(0)[:1], frame_id=0, pinned=True)
    for frame in range(1, 20):
        tracker.write(frame_features(frame)[:1], frame_id=frame)
    print('memory frames, oldest first:', tracker.read(oldest_first=True).fields['frame_id'].tolist())

    banner('per-id momentum update: one prototype per object')
    prototypes = MemoryBank(capacity=5, dim=dim, fields=dict(instance_id='int64'),
                            write_policy=dict(type='MomentumById', id_field='instance_id', momentum=0.9,
                                              normalize=True))
    for frame in range(20):
        prototypes.write(frame_features(frame), instance_id=torch.arange(5))
    similarity = prototypes.read().keys @ objects.T
    print('prototype vs true object cosine (diagonal):', [round(v, 3) for v in similarity.diagonal().tolist()])

    banner('per-camera long-term memory (Context R-CNN): 3 cameras, one-week horizon')
    cameras = GroupedMemoryBank(capacity_per_group=50, dim=dim, fields=dict(time='int64'),
                                time_field='time', horizon='week')
    for day in range(30):
        cameras.write(torch.tensor([day % 3]), frame_features(day)[:1], time=torch.tensor([day * 86400]))
    for camera in cameras.groups:
        days = sorted(t // 86400 for t in cameras.read(camera).fields['time'].tolist())
        print(f'camera {camera}: days held {days}')

    banner('coreset (PatchCore): 20000 patches -> 200 by greedy k-center, then nearest-neighbour scores')
    patches = torch.randn(20000, dim, generator=generator)
    start = time.perf_counter()
    chosen = greedy_coreset(patches, 200, generator=generator)
    print(f'coreset of 200 picked in {time.perf_counter() - start:.2f} s')
    normal_bank = MemoryBank(capacity=200, dim=dim)
    normal_bank.write(patches[chosen])
    test = torch.cat([patches[:3], 5 + torch.randn(3, dim, generator=generator)])
    distances = normal_bank.topk(test, 1, metric='l2').scores.squeeze(1)
    print('distance to nearest normal patch (3 normal, 3 anomalous):', [round(d, 2) for d in distances.tolist()])

    banner('vmem topk vs plain torch (MAMBA-sized: 300 queries, 20000 x 1024 bank, k=75)')
    queries = torch.randn(300, 1024, generator=generator)
    keys = torch.randn(20000, 1024, generator=generator)
    for name, fn in [('vmem', lambda: topk(queries, keys, 75)),
                     ('torch', lambda: (queries @ keys.T).topk(75, dim=1))]:
        fn()
        start = time.perf_counter()
        for _ in range(3):
            fn()
        print(f'{name:6s} {(time.perf_counter() - start) / 3 * 1e3:7.1f} ms')
    print('\nFull table: python tools/benchmark/retrieval.py')


if __name__ == '__main__':
    main()

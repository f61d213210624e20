"""The quick start itself, over fresh training seeds: is MAMBA's gain a result or noise?

    python tools/benchmark/quick_start_seeds.py --seeds 0 1 2 3 4 [quick start options ...]

Runs ``demo/quick_start.py --fresh --seed S`` once per seed (both models retrained and
re-evaluated; the data are generated once, deterministically, and shared), then prints one row
per seed (both mAPs, the gain, its 95% paired-bootstrap interval over the evaluation videos,
the per-video win rate, wall minutes) and a summary: mean and standard deviation of the gain,
how many seeds gained, how many intervals exclude zero. Options after the seeds are passed to
the quick start unchanged (e.g. ``--val-split val``, ``--schedule 1500 1000 1300``).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from vmem.apis.benchmark import machine_description  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument('--work-dir', default='work_dirs/quick_start_seeds')
    parser.add_argument('--reuse', action='store_true',
                        help='reuse finished seeds instead of retraining them (to resume an interrupted run)')
    args, quick_start_args = parser.parse_known_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds repeats a seed: {args.seeds}')
    args.quick_start_args = quick_start_args
    return args


def run_seed(seed: int, args) -> dict:
    work_dir = Path(args.work_dir)
    command = [sys.executable, 'demo/quick_start.py', '--seed', str(seed), '--work-dir', str(work_dir),
               '--demo-dir', str(work_dir / 'demo'), *args.quick_start_args]
    if not args.reuse:
        command.append('--fresh')
    print('$ ' + ' '.join(command[1:]), flush=True)
    start = time.perf_counter()
    log = work_dir / f'seed{seed}.log'
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, 'w') as out:
        result = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
    minutes = (time.perf_counter() - start) / 60
    if result.returncode != 0:
        sys.exit(f'quick_start_seeds: seed {seed} failed (exit {result.returncode}); see {log}')
    split = next((args.quick_start_args[i + 1] for i, a in enumerate(args.quick_start_args)
                  if a == '--val-split'), 'val')
    seed_dir = ROOT / work_dir / f'seed{seed}'
    gain = json.loads((seed_dir / 'gain.json').read_text())
    maps = [json.loads((seed_dir / model / f'{split}_metrics.json').read_text())['metrics']['vid/mAP']
            for model in ('faster_rcnn', 'mamba')]
    return dict(seed=seed, baseline=maps[0], mamba=maps[1], minutes=minutes, **gain)


def main(argv=None):
    args = parse_args(argv)
    started = time.strftime('%Y-%m-%d %H:%M')
    rows = [run_seed(seed, args) for seed in args.seeds]
    print(f'\n# quick start over {len(rows)} seeds, {machine_description("cpu")}, started {started}')
    print(f'# demo/quick_start.py {" ".join(args.quick_start_args)} --fresh --seed S; mAP in %')
    print('| seed | single frame | MAMBA | gain | 95% CI | videos MAMBA wins | minutes |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["seed"]} | {100 * r["baseline"]:.1f} | {100 * r["mamba"]:.1f} | {100 * r["gain"]:+.1f} | '
              f'[{100 * r["low"]:+.1f}, {100 * r["high"]:+.1f}] | {100 * r["win_rate"]:.0f}% | {r["minutes"]:.1f} |')
    gains = [100 * r['gain'] for r in rows]
    spread = statistics.stdev(gains) if len(gains) > 1 else float('nan')
    print(f'\ngain: mean {statistics.mean(gains):+.2f}, std {spread:.2f} over {len(gains)} seeds; '
          f'positive in {sum(g > 0 for g in gains)}/{len(gains)}; interval excludes zero (above) in '
          f'{sum(r["low"] > 0 for r in rows)}/{len(rows)}; '
          f'wall time per seed {min(r["minutes"] for r in rows):.1f}-{max(r["minutes"] for r in rows):.1f} min')


if __name__ == '__main__':
    main()

"""The quick start: vmem's main job end to end on CPU, no downloads (`make demo`).

1. generate SynthVID (cached: an up-to-date dataset is not rewritten);
2. train the tiny single-frame Faster R-CNN baseline;
3. train the tiny MAMBA (pixel + instance memory), starting from the baseline's weights
   at the iteration where it forks, so both models see the same number of iterations
   with the same learning rate at each one, and differ only in the memory;
4. evaluate both on a held-out SynthVID split with tools/test.py (MAMBA online: frames in
   order, each reading memory of past frames only) and print the comparison, with the gain's
   confidence interval from a paired bootstrap over the split's videos;
5. draw MAMBA's detections on a held-out test video into work_dirs/demo/.

Every step is one of the toolkit's own commands, printed before it runs; finished steps
(checkpoints, evaluations, the video) are reused by a second run, and ``--fresh`` redoes
them. About 15 minutes on 2 CPU cores; the README's tables come from the full-length
configs, which train for longer.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from vmem.evaluation import VIDOutcomes, paired_bootstrap

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL_SPLIT = 'val'
BASELINE_CONFIG = 'configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py'
MAMBA_CONFIG = 'configs/mamba/mamba_r10t_synthvid_tiny.py'
METRICS = ('vid/mAP', 'vid/mAP_slow', 'vid/mAP_medium', 'vid/mAP_fast', 'vid/mAP_degraded', 'vid/mAP_clean')


class QuickStart:
    """The steps, with the paths and command-line options they share."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data_root = Path(args.data_root).resolve()
        self.work_dir = Path(args.work_dir).resolve() / f'seed{args.seed}'
        self.total, self.fork, self.lr_drop = args.schedule
        self.baseline_dir, self.mamba_dir = self.work_dir / 'faster_rcnn', self.work_dir / 'mamba'
        self.baseline_checkpoint = self.baseline_dir / f'iter_{self.total}.pth'
        self.fork_checkpoint = self.baseline_dir / f'iter_{self.fork}.pth'
        self.mamba_checkpoint = self.mamba_dir / f'iter_{self.total - self.fork}.pth'

    # -- options ------------------------------------------------------------------------------
    def data_options(self, split: str) -> list[str]:
        """Point the configs at ``data_root``; validation and tools/test.py use ``split``."""
        root = f'{self.data_root}/'
        annotations = f'annotations/synthvid_{split}.json'
        return [f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
                f'val_dataloader.dataset.ann_file={annotations}',
                f'val_dataloader.dataset.data_prefix.img_path={split}/frames',
                f'val_evaluator.ann_file={root}{annotations}',
                f'test_dataloader.dataset.data_root={root}', f'test_dataloader.dataset.ann_file={annotations}',
                f'test_dataloader.dataset.data_prefix.img_path={split}/frames',
                f'test_evaluator.ann_file={root}{annotations}']

    def schedule_options(self, *, iterations: int, lr_drop: int, checkpoint_interval: int) -> list[str]:
        # val_begin past the end: the quick start evaluates with tools/test.py, once
        return [f'randomness.seed={self.args.seed}',
                f'train_cfg.max_iters={iterations}', f'+train_cfg.val_begin={iterations + 1}',
                f'param_scheduler.1.end={iterations}', f'param_scheduler.1.milestones=[{lr_drop}]',
                f'default_hooks.checkpoint.interval={checkpoint_interval}',
                'default_hooks.checkpoint.max_keep_ckpts=3']

    # -- steps --------------------------------------------------------------------------------
    def make_data(self) -> None:
        train, val, test = self.args.videos
        run(['tools/dataset_converters/make_synthvid.py', '--out-dir', str(self.data_root),
             '--splits', 'train', self.args.val_split, 'test', '--num-videos', str(train), str(val), str(test),
             '--frames', str(self.args.frames)])

    def train_baseline(self) -> None:
        self._train(BASELINE_CONFIG, self.baseline_dir, self.baseline_checkpoint, self.schedule_options(
            iterations=self.total, lr_drop=self.lr_drop, checkpoint_interval=math.gcd(self.fork, self.total)))

    def train_mamba(self) -> None:
        if not self.fork_checkpoint.is_file():
            sys.exit(f'quick start: {self.fork_checkpoint} is missing; rerun with --fresh')
        self._train(MAMBA_CONFIG, self.mamba_dir, self.mamba_checkpoint, [
            *self.schedule_options(iterations=self.total - self.fork, lr_drop=self.lr_drop - self.fork,
                                   checkpoint_interval=self.total - self.fork),
            f'load_from={self.fork_checkpoint}'])

    def _train(self, config: str, work_dir: Path, checkpoint: Path, options: list[str]) -> None:
        if checkpoint.is_file() and not self.args.fresh:
            print(f'(reusing {checkpoint})')
            return
        run(['tools/train.py', config, '--work-dir', str(work_dir),
             '--cfg-options', *options, *self.data_options(self.args.val_split)])

    def evaluate(self, config: str, checkpoint: Path, work_dir: Path) -> tuple[dict, Path]:
        """Metrics of ``checkpoint`` on the evaluation split and the file of its detections'
        outcomes (for the bootstrap), cached next to it (keyed by its modification time)."""
        split = self.args.val_split
        cache, outcomes = work_dir / f'{split}_metrics.json', work_dir / f'{split}_outcomes.npz'
        stamp = f'{checkpoint.name}:{checkpoint.stat().st_mtime_ns}'
        if cache.is_file() and outcomes.is_file() and not self.args.fresh:
            cached = json.loads(cache.read_text())
            if cached.get('checkpoint') == stamp:
                print(f'(reusing {cache})')
                return cached['metrics'], outcomes
        output = run(['tools/test.py', config, str(checkpoint), '--work-dir', str(work_dir / 'test'),
                      '--cfg-options', *self.data_options(split), f'+test_evaluator.outcomes_file={outcomes}'],
                     capture=True)
        metrics = {name: float(value) for name, value in re.findall(r'^\| (vid/\S+)\s*\|\s*([0-9.]+|nan) \|$', output, re.M)}
        missing = [name for name in METRICS if name not in metrics]
        if missing:
            sys.exit(f'quick start: tools/test.py printed no {", ".join(missing)}')
        cache.write_text(json.dumps({'checkpoint': stamp, 'metrics': metrics}, indent=1))
        return metrics, outcomes

    def render_demo(self) -> Path:
        video = self.data_root / 'test' / 'videos' / 'test_00000.mp4'  # neither trained nor validated on
        out = Path(self.args.demo_dir).resolve() / 'mamba_synthvid_test_00000.mp4'
        if out.is_file() and out.stat().st_mtime > self.mamba_checkpoint.stat().st_mtime and not self.args.fresh:
            print(f'(reusing {out})')
        else:
            run(['demo/video_demo.py', str(video), MAMBA_CONFIG, str(self.mamba_checkpoint), '--out', str(out)])
        return out


def run(command: list[str], *, capture: bool = False) -> str:
    print('$ python ' + ' '.join(shlex.quote(part) for part in command), flush=True)
    result = subprocess.run([sys.executable, *command], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE if capture else None)
    if capture:
        print(result.stdout, end='')
    if result.returncode != 0:
        sys.exit(f'quick start: the step above failed (exit status {result.returncode})')
    return result.stdout or ''


def comparison_table(rows: list[tuple[str, dict]]) -> str:
    names = ['model'] + [name.replace('vid/', '') for name in METRICS]
    lines = ['| ' + ' | '.join(names) + ' |', '|' + '|'.join('---' for _ in names) + '|']
    for model, metrics in rows:
        # nan: no ground truth of that kind (e.g. no fast objects in a miniature val split)
        cells = ['n/a' if math.isnan(metrics[name]) else f'{100 * metrics[name]:.1f}' for name in METRICS]
        lines.append('| ' + ' | '.join([model] + cells) + ' |')
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/quick_start', help='checkpoints, logs and results')
    parser.add_argument('--demo-dir', default='work_dirs/demo', help='where the demo video goes')
    parser.add_argument('--data-root', default='data/synthvid', help='where SynthVID is (or is generated)')
    parser.add_argument('--fresh', action='store_true', help='retrain and re-evaluate even if results exist')
    parser.add_argument('--seed', type=int, default=0, help='training seed of both models (data stay the same)')
    parser.add_argument('--val-split', default=DEFAULT_EVAL_SPLIT,
                        help=f'the held-out SynthVID split both models are evaluated on (default: {DEFAULT_EVAL_SPLIT})')
    parser.add_argument('--bootstrap-samples', type=int, default=1000,
                        help='paired bootstrap samples for the interval of the gain')
    smaller = parser.add_argument_group('a smaller run (smoke tests)')
    smaller.add_argument('--videos', nargs=3, type=int, default=[144, 24, 24], metavar=('TRAIN', 'VAL', 'TEST'),
                         help='SynthVID videos per split (default: 144 24 24)')
    smaller.add_argument('--frames', type=int, default=48, help='frames per SynthVID video (default: 48)')
    smaller.add_argument('--schedule', nargs=3, type=int, default=[1500, 1000, 1300],
                         metavar=('TOTAL', 'FORK', 'LR_DROP'),
                         help='iterations per model; the iteration at which MAMBA starts from the baseline; '
                              'the one at which both drop the learning rate (default: 1500 1000 1300)')
    args = parser.parse_args(argv)
    total, fork, lr_drop = args.schedule
    if not 0 < fork < total or not 0 < lr_drop <= total:
        parser.error(f'--schedule needs 0 < FORK < TOTAL and 0 < LR_DROP <= TOTAL, got {args.schedule}')
    if lr_drop <= fork:
        parser.error(f'--schedule: LR_DROP ({lr_drop}) must come after FORK ({fork}), so MAMBA trains at both rates')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    job = QuickStart(args)
    print(f'== 1/5 SynthVID in {job.data_root}')
    job.make_data()
    print(f'\n== 2/5 the single-frame Faster R-CNN baseline: {job.total} iterations')
    job.train_baseline()
    print(f'\n== 3/5 MAMBA: the baseline at iteration {job.fork} + {job.total - job.fork} iterations with memory')
    job.train_mamba()
    print(f'\n== 4/5 evaluation on SynthVID {args.val_split}')
    baseline, baseline_outcomes = job.evaluate(BASELINE_CONFIG, job.baseline_checkpoint, job.baseline_dir)
    mamba, mamba_outcomes = job.evaluate(MAMBA_CONFIG, job.mamba_checkpoint, job.mamba_dir)
    gain = paired_bootstrap(VIDOutcomes.load(baseline_outcomes), VIDOutcomes.load(mamba_outcomes),
                            num_samples=args.bootstrap_samples, seed=args.seed)
    (job.work_dir / 'gain.json').write_text(json.dumps(dataclasses.asdict(gain), indent=1))
    print('\n== 5/5 demo video: MAMBA on a held-out SynthVID test video')
    demo_video = job.render_demo()
    rows = [('Faster R-CNN (single frame)', baseline), ('MAMBA (online)', mamba)]
    print(f'\nSynthVID {args.val_split} mAP (%) after {job.total} iterations each, seed {args.seed}:\n'
          + comparison_table(rows))
    print(f'\nMAMBA - single frame: {gain.describe()}')
    print(f'\ndemo video: {demo_video}\ntook {(time.perf_counter() - start) / 60:.1f} minutes')


if __name__ == '__main__':
    main()

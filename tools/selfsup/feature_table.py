"""k-NN and linear-probe accuracy of several models' features, as one markdown table.

    python tools/selfsup/feature_table.py CONFIG --models "random init=" \
        "MoCo v2=work_dirs/mocov2_r10t_synthvid_crops/iter_1500.pth" \
        "MoCHi=work_dirs/mochi_r10t_synthvid_crops/iter_1500.pth" [--cfg-options ...] [--seeds 0 1 2]

Every model is ``CONFIG``'s model with the named checkpoint's weights (an empty path: random
init). Each model's features of ``eval_train_dataloader`` and ``eval_test_dataloader`` are
extracted once and then scored both ways: the weighted k-NN vote (k=20, T=0.07, as
``knn_eval.py``) and a linear probe (as ``linear_probe.py``; mean and spread over
``--seeds``).
"""
import argparse
import os.path as osp
import statistics
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.runner_args import load_config, run_tool  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--models', nargs='+', required=True, metavar='NAME=CHECKPOINT',
                        help='rows of the table; NAME= (empty path) is random init')
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--temperature', type=float, default=0.07)
    parser.add_argument('--epochs', type=int, default=100, help='linear-probe epochs')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0], help='linear-probe seeds')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE')
    return parser.parse_args(argv)


def parse_models(entries):
    models = []
    for entry in entries:
        name, separator, checkpoint = entry.partition('=')
        if not separator or not name:
            raise SystemExit(f'error: --models entries are NAME=CHECKPOINT (NAME= for random init), got {entry!r}')
        models.append((name, checkpoint or None))
    return models


def run(args) -> None:
    register_all_modules()
    from vmem.apis import extract_eval_splits
    from vmem.models.selfsup import knn_accuracy, train_linear_probe

    cfg = load_config(args.config, args.cfg_options)
    rows = []
    for name, checkpoint in parse_models(args.models):
        splits = extract_eval_splits(cfg, checkpoint, device=args.device, config_name=args.config)
        bank, test = splits.train, splits.test
        knn = knn_accuracy(bank.features, bank.labels, test.features, test.labels,
                           num_classes=splits.num_classes, k=args.k, temperature=args.temperature)
        probes = [train_linear_probe(bank.features, bank.labels, test.features, test.labels,
                                     num_classes=splits.num_classes, epochs=args.epochs, seed=seed)['top1']
                  for seed in args.seeds]
        spread = f' ± {statistics.stdev(probes):.2f}' if len(probes) > 1 else ''
        rows.append(f'| {name} | {knn["top1"]:.2f} | {statistics.mean(probes):.2f}{spread} | '
                    f'{checkpoint or "random init"} |')
    print(f'# {args.config}: bank/train {len(bank.labels)} samples, test {len(test.labels)} samples, '
          f'{splits.num_classes} classes; k-NN k={args.k} T={args.temperature}; probe {args.epochs} epochs, '
          f'seeds {args.seeds}')
    print('| model | k-NN top-1 (%) | linear probe top-1 (%) | weights |')
    print('|---|---|---|---|')
    print('\n'.join(rows))


def main(argv=None) -> None:
    run_tool(run, parse_args(argv))


if __name__ == '__main__':
    main()

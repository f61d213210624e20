"""Linear-probe accuracy of a self-supervised model's frozen features.

    python tools/selfsup/linear_probe.py CONFIG [CHECKPOINT] [--epochs 100] [--lr 0.1] [--seed 0] [--out results.json]

Features of the config's ``eval_train_dataloader`` are computed once and standardised; a
linear classifier is trained on them (SGD, cosine schedule) and tested on the features of
its ``eval_test_dataloader``. Without CHECKPOINT the model keeps its random
initialisation: the baseline a pretraining should beat.
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.runner_args import load_config, run_tool  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='model weights (default: random init)')
    parser.add_argument('--epochs', type=int, default=100, help='passes over the training features (default 100)')
    parser.add_argument('--lr', type=float, default=0.1, help='peak SGD learning rate (default 0.1)')
    parser.add_argument('--weight-decay', type=float, default=5e-4, help='(default 5e-4)')
    parser.add_argument('--batch-size', type=int, default=256, help='(default 256)')
    parser.add_argument('--seed', type=int, default=0, help='shuffling seed (default 0)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config settings, as in tools/test.py')
    parser.add_argument('--out', help='also write the results to this .json file')
    return parser.parse_args(argv)


def run(args) -> None:
    register_all_modules()
    from vmem.apis import extract_eval_splits
    from vmem.models.selfsup import train_linear_probe

    cfg = load_config(args.config, args.cfg_options)
    splits = extract_eval_splits(cfg, args.checkpoint, device=args.device, config_name=args.config)
    train, test = splits.train, splits.test
    metrics = train_linear_probe(train.features.to(args.device), train.labels, test.features, test.labels,
                                 num_classes=splits.num_classes, epochs=args.epochs, lr=args.lr,
                                 weight_decay=args.weight_decay, batch_size=args.batch_size, seed=args.seed)
    scores = ' '.join(f'{name} {value:.2f}%' for name, value in metrics.items())
    weights = f'weights: {args.checkpoint}' if args.checkpoint else 'weights: random init (no checkpoint)'
    print(f'linear probe {scores} ({args.epochs} epochs, lr {args.lr}, seed {args.seed}) | '
          f'train {len(train.labels)} samples, test {len(test.labels)} samples, '
          f'{splits.num_classes} classes | {weights}')
    if args.out:
        result = dict(metrics, epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
                      batch_size=args.batch_size, seed=args.seed, train_samples=len(train.labels),
                      test_samples=len(test.labels), num_classes=splits.num_classes, config=args.config,
                      checkpoint=args.checkpoint)
        with open(args.out, 'w') as file:
            json.dump(result, file, indent=2)


def main(argv=None) -> None:
    run_tool(run, parse_args(argv))


if __name__ == '__main__':
    main()

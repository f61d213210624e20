"""k-NN classification accuracy of a self-supervised model's frozen features.

    python tools/selfsup/knn_eval.py CONFIG [CHECKPOINT] [--k 20] [--temperature 0.07] [--out results.json]

Features of the config's ``eval_train_dataloader`` form the bank; each sample of its
``eval_test_dataloader`` is classified by a vote of its k most cosine-similar bank features,
weighted by exp(similarity / T) (InstDisc / MoCo's k-NN monitor). Without CHECKPOINT the
model keeps its random initialisation: the baseline a pretraining should beat.
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
    parser.add_argument('--k', type=int, default=20, help='neighbours that vote (default 20)')
    parser.add_argument('--temperature', type=float, default=0.07, help='vote weight exp(sim / T) (default 0.07)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config settings, as in tools/test.py')
    parser.add_argument('--out', help='also write the results to this .json file')
    return parser.parse_args(argv)


def run(args) -> None:
    register_all_modules()
    from vmem.apis import extract_eval_splits
    from vmem.models.selfsup import knn_accuracy

    cfg = load_config(args.config, args.cfg_options)
    splits = extract_eval_splits(cfg, args.checkpoint, device=args.device, config_name=args.config)
    bank, test = splits.train, splits.test
    k = min(args.k, len(bank.labels))   # knn_accuracy does the same; the line says which k voted
    metrics = knn_accuracy(bank.features.to(args.device), bank.labels, test.features.to(args.device),
                           test.labels, num_classes=splits.num_classes, k=args.k, temperature=args.temperature)
    scores = ' '.join(f'{name} {value:.2f}%' for name, value in metrics.items())
    weights = f'weights: {args.checkpoint}' if args.checkpoint else 'weights: random init (no checkpoint)'
    print(f'k-NN {scores} (k={k}, T={args.temperature}) | bank {len(bank.labels)} samples, '
          f'test {len(test.labels)} samples, {splits.num_classes} classes | {weights}')
    if args.out:
        result = dict(metrics, k=k, temperature=args.temperature, bank_samples=len(bank.labels),
                      test_samples=len(test.labels), num_classes=splits.num_classes, config=args.config,
                      checkpoint=args.checkpoint)
        with open(args.out, 'w') as file:
            json.dump(result, file, indent=2)


def main(argv=None) -> None:
    run_tool(run, parse_args(argv))


if __name__ == '__main__':
    main()

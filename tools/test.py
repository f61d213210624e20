"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [options]; prints a metric table."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.runner_args import (add_common_arguments, build_runner,  # noqa: E402
                                    configure_test, format_metrics, load_config, run_tool,
                                    set_local_rank_env)
from vmem.utils.weights_loading import load_model_weights  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (evaluate) a vmem model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs go (default work_dirs/<config name>)')
    parser.add_argument('--out', help='dump raw predictions to this .pkl file')
    parser.add_argument('--show-dir', help='draw predictions on the test frames and save them as jpgs in this folder')
    parser.add_argument('--non-strict', action='store_true',
                        help='load a checkpoint that only partly matches the model (warns instead of failing)')
    add_common_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None):
    run_tool(run, parse_args(argv))


def run(args):
    set_local_rank_env(args.local_rank)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    configure_test(cfg, config_path=args.config, work_dir=args.work_dir, out=args.out,
                   show_dir=args.show_dir, launcher=args.launcher)
    runner = build_runner(cfg, mode='test', config_path=args.config)
    load_model_weights(runner.model, args.checkpoint, strict=not args.non_strict)
    metrics = runner.test()
    if runner.rank == 0:
        print(format_metrics(metrics))


if __name__ == '__main__':
    main()

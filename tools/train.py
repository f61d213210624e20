"""Train a vmem model from a config: python tools/train.py CONFIG [options].

--cfg-options keys must exist in the config; write +key=value to add a new one.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.runner_args import (add_common_arguments, build_runner,  # noqa: E402
                                    configure_train, load_config, run_tool, set_local_rank_env)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a vmem model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CHECKPOINT',
                        help='resume from CHECKPOINT, or without a value from the latest one in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision (CUDA only)')
    add_common_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None):
    run_tool(run, parse_args(argv))


def run(args):
    set_local_rank_env(args.local_rank)
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    configure_train(cfg, config_path=args.config, work_dir=args.work_dir, resume=args.resume,
                    amp=args.amp, launcher=args.launcher)
    runner = build_runner(cfg, mode='train', config_path=args.config)
    runner.train()


if __name__ == '__main__':
    main()

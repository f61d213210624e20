"""Print a config with its _base_ files and --cfg-options merged: python tools/misc/print_config.py CONFIG."""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vmem.utils.runner_args import load_config  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description='Print the full config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config keys; +key=value adds a new key')
    args = parser.parse_args(argv)
    print(load_config(args.config, args.cfg_options).pretty_text)


if __name__ == '__main__':
    main()

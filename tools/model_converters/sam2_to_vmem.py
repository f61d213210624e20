"""Convert an official SAM 2 / 2.1 checkpoint into a vmem checkpoint.

    python tools/model_converters/sam2_to_vmem.py sam2.1_hiera_tiny.pt checkpoints/sam2.1_hiera_tiny_vmem.pth

The official file is read with ``torch.load(weights_only=True)`` (no pickled code runs).
Keys are renamed as documented in ``vmem.models.trackers.sam2.checkpoint`` and prefixed
with ``network.`` (the `SAM2Tracker` attribute); the output holds tensors and plain
metadata only, and loads with ``tools/test.py``, ``vmem.apis.init_model`` or
``load_from``. ``SAM2Tracker.load_official(path)`` loads the official file directly.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vmem.models.trackers.sam2.checkpoint import describe_official, read_official_checkpoint  # noqa: E402

HIERA_CONFIGS = {'sam2_hiera_tiny': 'tiny', 'sam2_hiera_small': 'small', 'sam2_hiera_base_plus': 'base_plus',
                 'sam2_hiera_large': 'large'}


def convert(source: Path, destination: Path) -> str:
    state = read_official_checkpoint(source)
    size, sam21 = describe_official(state)
    destination.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'state_dict': {f'network.{key}': value for key, value in state.items()},
                'meta': {'converted_from': source.name, 'hiera': size, 'sam21': sam21}}, destination)
    config = (f'configs/sam2/sam2.1_hiera_{HIERA_CONFIGS[size]}_davis.py' if sam21 and size in HIERA_CONFIGS
              else f"configs/sam2/sam2_hiera_tiny_davis.py with model.network.image_encoder.trunk.model_name='{size}'")
    return f'{source} ({size}, SAM {"2.1" if sam21 else "2"}) -> {destination}; use it with {config}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Convert an official SAM 2 checkpoint for vmem.')
    parser.add_argument('source', type=Path, help='official sam2*_hiera_*.pt')
    parser.add_argument('destination', type=Path, help='output .pth')
    args = parser.parse_args(argv)
    try:
        print(convert(args.source, args.destination))
    except (FileNotFoundError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

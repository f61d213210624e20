"""Convert torchvision's COCO Faster R-CNN weights into a vmem checkpoint.

    python tools/model_converters/torchvision_to_vmem.py fasterrcnn_resnet50_fpn_coco-258fb6c6.pth \
        checkpoints/faster_rcnn_r50_fpn_coco.pth --arch fasterrcnn_resnet50_fpn

The file is read with ``torch.load(weights_only=True)`` (no pickled code runs). Keys are
renamed as documented in ``vmem.models.detectors.torchvision_keys`` and checked against
the model of the arch's config (``--config`` for another one): unknown, missing and
wrongly shaped keys are an error listing them. The output holds tensors and COCO's class
names only and loads with ``demo/video_demo.py``, ``tools/test.py``, ``vmem.apis.init_model``
or ``load_from``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from vmem.models.detectors.torchvision_keys import ARCHS, torchvision_state_dict, torchvision_to_vmem  # noqa: E402

ARCH_CONFIGS = {'fasterrcnn_resnet50_fpn': 'configs/faster_rcnn/faster_rcnn_r50_fpn_coco.py',
                'fasterrcnn_resnet50_fpn_v2': 'configs/faster_rcnn/faster_rcnn_r50_fpn_v2_coco.py'}


def convert(source: Path, destination: Path, *, arch: str, config: str) -> str:
    from vmem.apis import init_model
    from vmem.utils.weights_loading import read_checkpoint
    state = torchvision_state_dict(read_checkpoint(str(source)), where=str(source))
    model = init_model(config)  # random weights: only its keys and shapes are compared
    checkpoint = torchvision_to_vmem(state, arch=arch, model=model)
    destination.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, destination)
    return (f'{source} ({arch}, {len(state)} tensors) -> {destination} '
            f'({len(checkpoint["meta"]["dataset_meta"]["classes"])} COCO classes); use it with {config}')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Convert torchvision's COCO Faster R-CNN weights for vmem.")
    parser.add_argument('source', type=Path, help="torchvision's .pth (a state dict)")
    parser.add_argument('destination', type=Path, help='output .pth')
    parser.add_argument('--arch', required=True, choices=ARCHS, help='the torchvision builder the file is for')
    parser.add_argument('--config', help='the vmem config to check the keys against '
                                         '(default: the one of --arch under configs/faster_rcnn/)')
    args = parser.parse_args(argv)
    config = args.config or str(ROOT / ARCH_CONFIGS[args.arch])
    try:
        print(convert(args.source, args.destination, arch=args.arch, config=config))
    except (FileNotFoundError, ValueError, TypeError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Official SAM 2 / 2.1 checkpoints (``sam2_hiera_*.pt``, ``sam2.1_hiera_*.pt``) -> vmem.

The official file is ``{'model': state_dict}``. Every key keeps its name in
`SAM2Network` except the Hiera trunk's MLPs, which timm names differently:

    image_encoder.trunk.blocks.N.mlp.layers.0.*  ->  image_encoder.trunk.blocks.N.mlp.fc1.*
    image_encoder.trunk.blocks.N.mlp.layers.1.*  ->  image_encoder.trunk.blocks.N.mlp.fc2.*

Loading is strict and never unpickles code (``torch.load(weights_only=True)``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Mapping, Tuple

import torch

from .image_encoder import HIERA_CHANNELS

_TRUNK_MLP = re.compile(r'^(image_encoder\.trunk\.blocks\.\d+\.mlp\.)layers\.([01])\.')
SAM21_ONLY_KEYS = ('no_obj_embed_spatial', 'obj_ptr_tpos_proj.weight', 'obj_ptr_tpos_proj.bias')


def official_to_vmem_key(key: str) -> str:
    return _TRUNK_MLP.sub(lambda m: f'{m.group(1)}fc{int(m.group(2)) + 1}.', key)


def vmem_to_official_key(key: str) -> str:
    return re.sub(r'^(image_encoder\.trunk\.blocks\.\d+\.mlp\.)fc([12])\.',
                  lambda m: f'{m.group(1)}layers.{int(m.group(2)) - 1}.', key)


def convert_official_state_dict(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """An official SAM 2 state dict (or the whole ``{'model': ...}`` file) with vmem's key names."""
    if 'model' in state and isinstance(state['model'], Mapping):
        state = state['model']
    return {official_to_vmem_key(key): value for key, value in state.items()}


def read_official_checkpoint(path: str | Path) -> Dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'SAM 2 checkpoint {path} does not exist')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # pickle errors name the offending global; keep the file name
        raise ValueError(f'{path}: cannot be read as a weights-only checkpoint ({error})') from error
    if not isinstance(state, Mapping):
        raise ValueError(f'{path}: expected a state dict or {{"model": state_dict}}, got {type(state).__name__}')
    return convert_official_state_dict(state)


def describe_official(state: Mapping[str, torch.Tensor]) -> Tuple[str, bool]:
    """(the Hiera size, SAM 2.1 or not) a converted state dict was saved from."""
    patch = state.get('image_encoder.trunk.patch_embed.proj.weight')
    width = None if patch is None else patch.shape[0]
    depth = len({k.split('.')[3] for k in state if k.startswith('image_encoder.trunk.blocks.')})
    size = next((name for name, channels in HIERA_CHANNELS.items()
                 if channels[0] == width and _official_depth(name) == depth), f'unknown (width {width}, {depth} blocks)')
    return size, 'no_obj_embed_spatial' in state


def _official_depth(name: str) -> int:
    return {'sam2_hiera_tiny': 12, 'sam2_hiera_small': 16, 'sam2_hiera_base_plus': 24,
            'sam2_hiera_large': 48}[name]


def load_official_weights(network: torch.nn.Module, state: Mapping[str, torch.Tensor], *,
                          source: str = 'checkpoint') -> None:
    """Load a converted official state dict into a `SAM2Network` strictly; a mismatch
    (another Hiera size, SAM 2 vs 2.1) raises listing the keys and shapes that differ."""
    own = network.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or mismatched:
        size, sam21 = describe_official(state)
        lines = [f'{source} does not fit this SAM 2 model: it looks like {size}, '
                 f'SAM {"2.1" if sam21 else "2"}; the config builds '
                 f'{getattr(network, "trunk_name", "another model")}, SAM {"2.1" if getattr(network, "sam21", True) else "2"}.']
        for title, keys in (('missing', missing), ('unexpected', unexpected)):
            if keys:
                lines.append(f'{len(keys)} {title} keys: {", ".join(keys[:8])}{" ..." if len(keys) > 8 else ""}')
        if mismatched:
            shown = [f'{k} {list(state[k].shape)} vs {list(own[k].shape)}' for k in mismatched[:8]]
            lines.append(f'{len(mismatched)} keys of another shape (file vs model): {"; ".join(shown)}'
                         f'{" ..." if len(mismatched) > 8 else ""}')
        raise ValueError('\n'.join(lines))
    network.load_state_dict(state, strict=True)

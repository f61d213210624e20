"""Checks that turn config mistakes into errors naming the key, before a Runner is built.

mmengine reports an unknown ``type`` as a registry stack trace from deep inside the build,
a missing top-level key as a bare ``KeyError``, and silently adds a misspelt
``--cfg-options`` key as a new one. These checks catch the three up front.
"""
from __future__ import annotations

import difflib
from typing import Any, Iterator, Mapping, Sequence

from mmengine.config import Config

# Keys a Runner needs for each command; without them from_cfg fails with a bare KeyError
# or, worse, runs without a loop.
REQUIRED_KEYS = {
    'train': ('model', 'train_dataloader', 'train_cfg', 'optim_wrapper'),
    'test': ('model', 'test_dataloader', 'test_evaluator', 'test_cfg'),
}

# Marks a --cfg-options key as intentionally new (Hydra's convention): `+model.extra=1`.
NEW_KEY_PREFIX = '+'


class ConfigError(ValueError):
    """A config that cannot work; the message names the file and the key."""


def _as_tree(cfg: Config | Mapping) -> Mapping:
    # Config is not a Mapping; its dict is.
    return cfg.to_dict() if isinstance(cfg, Config) else cfg


def check_required_keys(cfg: Config, *, mode: str, config_path: str = '<config>') -> None:
    if mode not in REQUIRED_KEYS:
        raise ValueError(f'mode must be one of {sorted(REQUIRED_KEYS)}, got {mode!r}')
    missing = [key for key in REQUIRED_KEYS[mode] if cfg.get(key) is None]
    if missing:
        raise ConfigError(f'{config_path}: {mode} needs the top-level key(s) {missing}, '
                          f'which the config (and its _base_ files) does not set')


def iter_types(node: Any, path: str = '') -> Iterator[tuple[str, str]]:
    """Yield (config path, type name) for every ``type='...'`` string in a config tree."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            child = f'{path}.{key}' if path else str(key)
            if key == 'type' and isinstance(value, str):
                yield child, value
            else:
                yield from iter_types(value, child)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from iter_types(value, f'{path}[{index}]')


def _is_registered(type_name: str, registries: Sequence) -> bool:
    for registry in registries:
        try:
            if registry.get(type_name) is not None:
                return True
        except (KeyError, ImportError):
            continue
    return False


def _known_names(registries: Sequence) -> set[str]:
    names: set[str] = set()
    for registry in registries:
        while registry is not None:
            names.update(registry.module_dict)
            registry = registry.parent
    return names


def check_registered_types(cfg: Config | Mapping, *, config_path: str = '<config>') -> None:
    """Every ``type`` string must name a module in some vmem (or mmengine) registry.

    Which registry a nested dict is built from depends on the module that receives it, so
    this only checks that the name exists somewhere; a name in the wrong registry is
    still reported by mmengine at build time."""
    # mmengine registers its own loops, hooks, visualizers, ... on import of these.
    import mmengine.dataset  # noqa: F401
    import mmengine.evaluator  # noqa: F401
    import mmengine.runner  # noqa: F401
    import mmengine.visualization  # noqa: F401
    from vmem.registry import ALL_REGISTRIES
    registries = list(ALL_REGISTRIES.values())
    unknown = [(path, name) for path, name in iter_types(_as_tree(cfg))
               if not _is_registered(name, registries)]
    if not unknown:
        return
    known = _known_names(registries)
    lines = []
    for path, name in unknown:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f' (did you mean {", ".join(close)}?)' if close else ''
        lines.append(f'  {path} = {name!r}{hint}')
    raise ConfigError(f'{config_path}: unknown module type(s), not registered in any vmem '
                      'registry:\n' + '\n'.join(lines))


def _lookup(node: Any, part: str) -> tuple[bool, Any]:
    if isinstance(node, Mapping):
        return (part in node, node.get(part))
    if isinstance(node, (list, tuple)) and part.lstrip('-').isdigit():
        index = int(part)
        return (-len(node) <= index < len(node), node[index] if -len(node) <= index < len(node) else None)
    return False, None


def _existing_prefix(cfg: Mapping, key: str) -> str:
    node, found = cfg, []
    for part in key.split('.'):
        exists, node = _lookup(node, part)
        if not exists:
            break
        found.append(part)
    return '.'.join(found)


def split_cfg_options(options: Mapping[str, Any] | None) -> tuple[dict, set[str]]:
    """Strip the ``+`` new-key marker; return (options for merge_from_dict, new keys)."""
    plain, new_keys = {}, set()
    for key, value in (options or {}).items():
        if key.startswith(NEW_KEY_PREFIX):
            key = key[len(NEW_KEY_PREFIX):]
            new_keys.add(key)
        plain[key] = value
    return plain, new_keys


def check_cfg_options(cfg: Config | Mapping, options: Mapping[str, Any] | None,
                      *, config_path: str = '<config>') -> dict:
    """Refuse --cfg-options keys that do not exist in the config, unless marked ``+key``.

    Returns the options with markers stripped, ready for ``cfg.merge_from_dict``."""
    plain, new_keys = split_cfg_options(options)
    cfg = _as_tree(cfg)
    missing = []
    for key in plain:
        if key in new_keys:
            continue
        exists = _existing_prefix(cfg, key)
        if exists != key:
            missing.append((key, exists))
    if missing:
        lines = []
        for key, exists in missing:
            node = cfg
            for part in exists.split('.') if exists else []:
                node = _lookup(node, part)[1]
            choices = sorted(map(str, node)) if isinstance(node, Mapping) else []
            bad = key.split('.')[len(exists.split('.')) if exists else 0]
            close = difflib.get_close_matches(bad, choices, n=3)
            hint = f'; did you mean {", ".join(exists + "." + c if exists else c for c in close)}?' if close else ''
            lines.append(f'  {key}: {bad!r} does not exist under {exists or "the top level"}{hint}')
        raise ConfigError(f'{config_path}: --cfg-options sets key(s) that are not in the config '
                          '(prefix a key with "+" to add it on purpose, e.g. +model.new_key=1):\n'
                          + '\n'.join(lines))
    return plain


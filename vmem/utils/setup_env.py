"""Registering vmem's modules and making it mmengine's default scope."""
from __future__ import annotations

import importlib

# Importing these registers their modules; later layers append their packages.
MODULE_PACKAGES = ('vmem.memory', 'vmem.datasets', 'vmem.evaluation', 'vmem.engine', 'vmem.models')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every package that registers modules; optionally set default_scope='vmem'
    (configs do it with ``default_scope = 'vmem'``)."""
    for package in MODULE_PACKAGES:
        importlib.import_module(package)
    from .checkpoint import enable_safe_checkpoints
    enable_safe_checkpoints()
    if init_default_scope:
        from mmengine.registry import init_default_scope as set_scope
        set_scope('vmem')

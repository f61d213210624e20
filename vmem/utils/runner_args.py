"""What tools/train.py and tools/test.py do, callable from Python.

    cfg = load_config('configs/...py', cfg_options={'train_cfg.max_iters': 100})
    configure_train(cfg, config_path=..., work_dir=None, resume='auto', amp=False)
    runner = build_runner(cfg, mode='train', config_path=...)
    runner.train()
"""
from __future__ import annotations

import argparse
import datetime
import os
import os.path as osp
import sys
from typing import Any, Callable, Mapping, Optional

import torch
from mmengine.config import Config, DictAction

from .config_check import ConfigError, check_cfg_options, check_registered_types, check_required_keys

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options tools/train.py and tools/test.py share (mmdetection's spelling)."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config keys, e.g. train_cfg.max_iters=100; +key=value adds a new key')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=None)


def run_tool(run: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> None:
    """Run a tool's body; a config mistake exits with one readable line, not a stack trace.
    Under torchrun the process group is shut down before the interpreter exits: left to
    interpreter teardown, gloo's threads sometimes abort a rank ("terminate called without
    an active exception", seen in the two-process CPU training test)."""
    try:
        run(args)
    except ConfigError as error:
        sys.exit(f'error: {error}')
    else:
        _close_process_group(wait_for_others=True)
    finally:
        _close_process_group(wait_for_others=False)


def _close_process_group(*, wait_for_others: bool) -> None:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        if wait_for_others:   # only after success: a failed rank must not hang the others
            dist.barrier()
        dist.destroy_process_group()


def set_local_rank_env(local_rank: Optional[int]) -> None:
    """torch.distributed.launch passes --local_rank; mmengine reads LOCAL_RANK."""
    if local_rank is not None and 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(local_rank)


def load_config(config_path: str, cfg_options: Optional[Mapping[str, Any]] = None) -> Config:
    """Read a config file and apply --cfg-options, refusing keys the config lacks
    (unless written ``+key``; see `vmem.utils.config_check`)."""
    if not osp.isfile(config_path):
        raise FileNotFoundError(f'config file not found: {config_path}')
    from .setup_env import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config_path)
    if cfg_options:
        cfg.merge_from_dict(check_cfg_options(cfg, cfg_options, config_path=config_path))
    return cfg


def default_work_dir(config_path: str) -> str:
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def _set_launcher_and_work_dir(cfg: Config, *, config_path: str, work_dir: Optional[str], launcher: str) -> None:
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    cfg.launcher = launcher
    # priority: command line > config > work_dirs/<config name>
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(config_path)


def configure_train(cfg: Config, *, config_path: str, work_dir: Optional[str] = None,
                    resume: Optional[str] = None, amp: bool = False, launcher: str = 'none') -> Config:
    """Apply train.py's options. ``resume``: None (no), 'auto' (latest checkpoint in the
    work dir, if any) or a checkpoint path."""
    _set_launcher_and_work_dir(cfg, config_path=config_path, work_dir=work_dir, launcher=launcher)
    if amp:
        if not torch.cuda.is_available():
            raise ValueError('--amp needs a CUDA GPU (mmengine AmpOptimWrapper); none is available')
        if cfg.optim_wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {resume}')
        cfg.resume, cfg.load_from = True, resume
    return cfg


def configure_test(cfg: Config, *, config_path: str, work_dir: Optional[str] = None,
                   out: Optional[str] = None, show_dir: Optional[str] = None,
                   launcher: str = 'none') -> Config:
    """Apply test.py's options. Weights are loaded by `vmem.utils.load_model_weights`
    after the runner is built (strict by default), not through ``load_from``."""
    _set_launcher_and_work_dir(cfg, config_path=config_path, work_dir=work_dir, launcher=launcher)
    if show_dir is not None:
        cfg.custom_hooks = [*(cfg.get('custom_hooks') or []), dict(type='DetVisualizationHook', show_dir=show_dir)]
    if out is not None:
        if not out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl or .pickle file, got {out}')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=out)]
    cfg.load_from = None
    # Testing neither needs nor builds training or validation parts, and mmengine refuses a config
    # that has only some of them (a test config inheriting just the dataset file).
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler',
                'val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg[key] = None
    return cfg


def prepare_distributed(cfg: Config) -> None:
    """Start a gloo process group on machines without CUDA.

    mmengine's pytorch launcher calls torch.cuda.set_device and wraps the model in DDP
    with ``device_ids=[LOCAL_RANK]``, both of which fail on CPU. Starting the group here
    makes mmengine skip its own initialisation, and the wrapper gets ``device_ids=None``."""
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    if dist_cfg.get('backend', 'gloo') != 'gloo':
        print(f"vmem: no CUDA, so distributed training uses 'gloo' instead of {dist_cfg['backend']!r}")
    if not dist.is_initialized():
        if cfg.launcher != 'pytorch':
            raise ValueError(f'CPU distributed runs support --launcher pytorch only, got {cfg.launcher!r}')
        timeout = dist_cfg.get('timeout')
        kwargs = {} if timeout is None else dict(timeout=datetime.timedelta(seconds=timeout))
        dist.init_process_group(backend='gloo', **kwargs)
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def build_runner(cfg: Config, *, mode: str, config_path: str = '<config>'):
    """Check the config (required keys, registered types), then build its Runner."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    check_required_keys(cfg, mode=mode, config_path=config_path)
    check_registered_types(cfg, config_path=config_path)
    prepare_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """A two-column text table of a metrics dict."""
    if not metrics:
        return '(no metrics)'
    rows = [(str(key), f'{value:.4f}' if isinstance(value, float) else str(value))
            for key, value in metrics.items()]
    width = max(len('metric'), *(len(key) for key, _ in rows))
    value_width = max(len('value'), *(len(value) for _, value in rows))
    lines = [f'| {"metric":<{width}} | {"value":>{value_width}} |', f'|{"-" * (width + 2)}|{"-" * (value_width + 2)}|']
    lines += [f'| {key:<{width}} | {value:>{value_width}} |' for key, value in rows]
    return '\n'.join(lines)

# Runtime shared by vmem configs: hooks, logging, environment.
default_scope = 'vmem'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # LoggerHook logs loss, lr, time and the ETA every `interval` iterations
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# Stores the torch/numpy/python generator states in checkpoints so --resume continues
# exactly where an uninterrupted run would be (mmengine re-seeds from the start).
custom_hooks = [dict(type='RandomStateHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; on machines without CUDA, vmem.utils.runner_args.prepare_distributed
    # switches to gloo by itself (mmengine's launcher would call torch.cuda.set_device).
    dist_cfg=dict(backend='nccl'))

# TensorBoard (needs `pip install tensorboard`): add dict(type='TensorboardVisBackend').
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
# Schedules set by_epoch=False for iteration-based training.
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False

# A short iteration-based schedule for small runs (SynthVID): 2000 iterations, lr x0.1
# at 1500, 100-iteration warm-up, validation every 500 iterations. A config using it sets
# default_hooks.checkpoint.by_epoch=False and log_processor.by_epoch=False (mmengine
# refuses the same key in two _base_ files, and default_runtime.py sets both).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=2000, milestones=[1500], gamma=0.1)]

# Iteration-based training of ToyRegressor, inheriting vmem's runtime and checking its hooks.
_base_ = ['../../../configs/_base_/default_runtime.py']
custom_imports = dict(imports=['toy_modules'], allow_failed_imports=False)

model = dict(type='ToyRegressor', dim=4)
train_dataloader = dict(
    batch_size=2, num_workers=0,
    dataset=dict(type='ToyNoiseDataset', length=12, dim=4),
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9))
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[3], gamma=0.1)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=6)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=3))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

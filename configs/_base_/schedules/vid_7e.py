# The VID papers' schedule (SELSA/MAMBA as in mmtracking): 7 epochs over the VID+DET
# training set, lr x0.1 after epochs 2 and 5, 500-iteration linear warm-up from lr/3.
# lr 0.01 is for 8 GPUs x 1 clip; scale it linearly with the total batch size
# (or set auto_scale_lr.enable=True).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=7, val_interval=7)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=7, milestones=[2, 5], gamma=0.1)]
auto_scale_lr = dict(enable=False, base_batch_size=8)

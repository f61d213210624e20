# MoCo v2 on SynthVID object crops, small enough to pretrain on 2 CPU cores:
#   python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid
#   python tools/train.py configs/moco/mocov2_r10t_synthvid_crops.py
#   python tools/selfsup/knn_eval.py configs/moco/mocov2_r10t_synthvid_crops.py \
#       work_dirs/mocov2_r10t_synthvid_crops/iter_1500.pth
# ResNet-10t from scratch (no hub here), 64-px views of the object crops, batch 64, a
# 4096-entry queue (64 batches of keys). The paper's 0.999 momentum suits 200 ImageNet
# epochs; with 1500 steps the key encoder would barely move from its random start, so
# m = 0.99 (as small-scale MoCo reproductions use). lr 0.06 with a cosine schedule.
_base_ = [
    '../_base_/datasets/synthvid_crops.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='MoCo',
    backbone=dict(type='TimmBackbone', model_name='resnet10t', out_indices=(4,), norm_eval=False),
    projection_head=dict(hidden_dim=512, out_dim=128),
    queue_size=4096, momentum=0.99, temperature=0.2,
    data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=1))

max_iters = 1500
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, T_max=max_iters - 50)]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

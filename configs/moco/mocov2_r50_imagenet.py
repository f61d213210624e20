# MoCo v2 with the paper's settings (Chen et al. 2020, "Improved Baselines with Momentum
# Contrastive Learning"): ResNet-50, 2048-128 MLP head, queue 65536, momentum 0.999,
# temperature 0.2, 224-px views with blur, SGD lr 0.03 for a batch of 256 (8 GPUs x 32),
# weight decay 1e-4, cosine schedule over 200 epochs (ImageNet linear probe 67.5; 71.1
# after 800 epochs).
#   bash tools/dist_train.sh configs/moco/mocov2_r50_imagenet.py 8 \
#       --cfg-options train_dataloader.dataset.data_root=/data/imagenet/train/
# The train folder's class sub-folders are only image folders here: labels are not read.
_base_ = [
    '../_base_/datasets/image_folder_views.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='MoCo',
    backbone=dict(type='TimmBackbone', model_name='resnet50', out_indices=(4,), norm_eval=False),
    projection_head=dict(hidden_dim=2048, out_dim=128),
    queue_size=65536, momentum=0.999, temperature=0.2,
    # MoCo's shuffling BN across GPUs; with sync_bn = 'torch' set shuffle_bn=False instead
    shuffle_bn=True,
    data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=1))
train_dataloader = dict(batch_size=32, num_workers=8,
                        dataset=dict(data_root='data/imagenet/train/'))

max_epochs = 200
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs)]
# lr 0.03 is for 256 images per step (8 x 32): with another total batch, scale it
# linearly, e.g. optim_wrapper.optimizer.lr=0.015 for 4 GPUs x 32
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))

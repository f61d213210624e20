# A tiny single-frame Faster R-CNN for SynthVID that trains on 2 CPU cores in minutes:
#   python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid
#   python tools/train.py configs/faster_rcnn/faster_rcnn_r18_synthvid_tiny.py
# ResNet-18 (DC5, stride 16), SynthVID's 256x192 frames, 8 classes. The baseline that
# the memory models are compared against: key frames only, no reference frames.
_base_ = [
    '../_base_/models/faster_rcnn_r50_dc5.py',
    '../_base_/datasets/synthvid.py',
    '../_base_/schedules/iter_2k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(model_name='resnet18', frozen_stages=-1, norm_eval=False),
    neck=dict(in_channels=(512,), out_channels=128),
    rpn_head=dict(in_channels=128, anchor_sizes=((16, 32, 64, 128),),
                  pre_nms_top_n_train=2000, post_nms_top_n_train=300,
                  pre_nms_top_n_test=1000, post_nms_top_n_test=100),
    roi_head=dict(num_classes=8, batch_size_per_image=128,
                  box_head=dict(in_channels=128, fc_channels=256)))

single_frame_pipeline = [
    dict(type='LoadFrame'),
    dict(type='LoadAnnotations', with_instance_id=True),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')]
train_dataloader = dict(
    batch_size=4, num_workers=1,
    dataset=dict(ref_img_sampler=None, pipeline=single_frame_pipeline))
val_dataloader = dict(num_workers=1)
test_dataloader = dict(num_workers=1)

# ~13 minutes on 2 CPU cores (0.76 s per iteration of 4 frames), validated once at the end.
# The backbone starts from scratch (no hub here), for which AdamW converges faster than
# the papers' SGD.
train_cfg = dict(max_iters=1000, val_interval=1000)
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=1000, milestones=[800], gamma=0.1)]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

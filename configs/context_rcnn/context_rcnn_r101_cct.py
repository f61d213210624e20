# Context R-CNN (Beery et al., CVPR 2020) in the paper's setting, on a COCO Camera Traps
# file (the LILA camera-trap json: images with location, datetime, seq_id, frame_num):
# Faster R-CNN R-101 (stride 16), per camera up to 2000 context entries within a month,
# attention bottleneck 2048, softmax temperature 0.01.
#   1. train the single-frame detector: this file's data with type='FasterRCNN' (or any
#      FasterRCNN config over the same classes), giving BASE_CKPT;
#   2. python tools/context_rcnn/build_memory.py configs/context_rcnn/context_rcnn_r101_cct.py BASE_CKPT \
#          --split train --out data/cct/memory_train.safetensors      (and --split val)
#   3. tools/dist_train.sh configs/context_rcnn/context_rcnn_r101_cct.py 8 --cfg-options load_from=BASE_CKPT
#   4. tools/dist_test.sh configs/context_rcnn/context_rcnn_r101_cct.py CKPT 8 \
#          --cfg-options model.memory_file=data/cct/memory_val.safetensors
# As in the paper, the whole detector trains (freeze_detector=False) while its memory
# comes from the frozen single-frame detector's bank. Which boxes a frame stores
# (max_per_frame, score_thr), the input size and the schedule are ours, not the paper's.
_base_ = ['../_base_/models/faster_rcnn_r50_dc5.py', '../_base_/default_runtime.py']

num_classes = 20   # the number of categories in your file (box-level classes, e.g. species)
data_root = 'data/cct/'

model = dict(
    type='ContextRCNN',
    backbone=dict(model_name='resnet101'),
    roi_head=dict(num_classes=num_classes, box_head=dict(fc_channels=1024)),
    camera_memory=dict(capacity=2000, horizon='month', max_per_frame=8, score_thr=0.5),
    attention=dict(bottleneck_dim=2048, temperature=0.01, num_keys=None),
    memory_file=data_root + 'memory_train.safetensors',
    inference_mode='offline', freeze_detector=False)

train_pipeline = [
    dict(type='LoadFrame'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1024, 640), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadFrame'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1024, 640), keep_ratio=True),
    dict(type='PackDetInputs')]

train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CocoVideoDataset', data_root=data_root, ann_file='annotations/cct_train.json',
                 data_prefix=dict(img_path='images'), filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CocoVideoDataset', data_root=data_root, ann_file='annotations/cct_val.json',
                 data_prefix=dict(img_path='images'), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
# the paper reports mAP at IoU 0.5 (COCO's AP50)
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/cct_val.json', metric='bbox')
test_evaluator = val_evaluator

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=12)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=12, milestones=[8, 11], gamma=0.1)]
auto_scale_lr = dict(enable=False, base_batch_size=16)

# SynthVID as semi-supervised video object segmentation (masks and instance ids of the
# CocoVID json); generate it with
#   python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid
# Training: clips of 8 consecutive frames with up to 3 of the objects visible in the clip's
# first frame; testing: every frame in order, each object prompted (gt_instances) on the
# frame where it first appears.
dataset_type = 'CocoVOSDataset'
data_root = 'data/synthvid/'

_frame_transforms = [
    dict(type='LoadFrame'),
    dict(type='LoadVOSAnnotations'),
    dict(type='Resize', scale=(256, 192), keep_ratio=True)]
train_pipeline = [
    dict(type='ApplyToFrames', transforms=[
        *_frame_transforms,
        dict(type='RandomFlip', prob=0.5),
        dict(type='MasksToBoxes')]),
    dict(type='PackVideoInputs')]
test_pipeline = [
    *_frame_transforms,
    dict(type='MasksToBoxes'),
    dict(type='PackDetInputs')]

train_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='annotations/synthvid_train.json', data_prefix=dict(img_path='train/frames'),
        clip_length=8, max_stride=1, max_objects=3, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='VideoSampler'),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='annotations/synthvid_val.json', data_prefix=dict(img_path='val/frames'),
        test_mode=True, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='VideoSampler'),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='annotations/synthvid_test.json', data_prefix=dict(img_path='test/frames'),
        test_mode=True, pipeline=test_pipeline))

val_evaluator = dict(type='VOSMetric', ann_file=data_root + 'annotations/synthvid_val.json')
test_evaluator = dict(type='VOSMetric', ann_file=data_root + 'annotations/synthvid_test.json')

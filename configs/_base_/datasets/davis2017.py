# DAVIS 2017 semi-supervised video object segmentation, from the official folder layout
# (DAVIS-2017-trainval-480p: JPEGImages/480p, Annotations/480p, ImageSets/2017) in data/DAVIS.
# Training: clips of 8 consecutive frames with up to 3 of the objects visible in the clip's
# first frame; testing: every frame of every val video in order, with the prompts (first
# frame masks) in gt_instances. DAVIS test-dev has no public annotations, so "test" is val.
dataset_type = 'DAVISDataset'
data_root = 'data/DAVIS/'

_frame_transforms = [
    dict(type='LoadFrame'),
    dict(type='LoadVOSAnnotations'),
    dict(type='Resize', scale=(512, 512), keep_ratio=True)]  # long side 512 (854x480 -> 512x288)
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
        type=dataset_type, data_root=data_root, split='train', resolution='480p',
        clip_length=8, max_stride=1, max_objects=3, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='VideoSampler'),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='val', resolution='480p',
        test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='VOSMetric', data_root=data_root, split='val', resolution='480p')
test_evaluator = val_evaluator

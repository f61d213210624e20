# ImageNet VID + DET (30 classes) in CocoVID json, made by
#   python tools/dataset_converters/imagenet_vid.py --root data/ILSVRC --out-dir data/ILSVRC/annotations --det
# Training: the 15-frames-per-video VID subset plus DET images (one-frame videos), key
# frame + 2 reference frames within +-9 frames; testing: every val frame, in order.
dataset_type = 'CocoVideoDataset'
data_root = 'data/ILSVRC/'

train_pipeline = [
    dict(type='ApplyToFrames', transforms=[
        dict(type='LoadFrame'),
        dict(type='LoadAnnotations', with_instance_id=True),
        dict(type='Resize', scale=(1000, 600), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5)]),
    dict(type='PackVideoInputs')]
test_pipeline = [
    dict(type='LoadFrame'),
    dict(type='LoadAnnotations', with_instance_id=True),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='PackDetInputs')]

# For memory models (configs/mamba): testing packs clips. Online inference ignores their
# reference frames; this sampler (frame 0 of a video gets itself as its one reference)
# only makes offline inference a --cfg-options switch:
#   model.inference_mode=offline test_dataloader.dataset.ref_img_sampler.num_ref_imgs=12
clip_test_pipeline = [
    dict(type='ApplyToFrames', transforms=test_pipeline[:-1]),
    dict(type='PackVideoInputs')]
clip_test_ref_sampler = dict(num_ref_imgs=1, method='test_with_adaptive_stride')

_ref_sampler = dict(num_ref_imgs=2, frame_range=9, filter_key_img=True, method='bilateral_uniform')
train_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/imagenet_vid_train.json', data_prefix=dict(img_path='Data/VID'),
                 key_img_sampler=dict(vid_train_frames_only=True),
                 ref_img_sampler=_ref_sampler, filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline),
            dict(type=dataset_type, data_root=data_root, load_as_video=False,
                 ann_file='annotations/imagenet_det_30cls.json', data_prefix=dict(img_path='Data/DET'),
                 ref_img_sampler=_ref_sampler, filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline)]))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='VideoSampler'),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='annotations/imagenet_vid_val.json', data_prefix=dict(img_path='Data/VID'),
        test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='VIDMetric', ann_file=data_root + 'annotations/imagenet_vid_val.json')
test_evaluator = val_evaluator

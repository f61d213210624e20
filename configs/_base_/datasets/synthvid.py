# SynthVID (vmem.datasets.synthetic): generate it with
#   python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid \
#       --splits train val test --num-videos 144 24 24   # the README's detector results
# Key frame + 2 reference frames for training (SELSA/MAMBA style); every frame in order,
# whole videos per rank, for testing.
dataset_type = 'CocoVideoDataset'
data_root = 'data/synthvid/'

train_pipeline = [
    dict(type='ApplyToFrames', transforms=[
        dict(type='LoadFrame'),
        dict(type='LoadAnnotations', with_instance_id=True),
        dict(type='Resize', scale=(256, 192), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5)]),
    dict(type='PackVideoInputs')]
test_pipeline = [
    dict(type='LoadFrame'),
    dict(type='LoadAnnotations', with_instance_id=True),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='PackDetInputs')]

# For memory models (configs/mamba): testing packs clips. Online inference ignores their
# reference frames; this sampler (frame 0 of a video gets itself as its one reference)
# only makes offline inference a --cfg-options switch:
#   model.inference_mode=offline test_dataloader.dataset.ref_img_sampler.num_ref_imgs=12
clip_test_pipeline = [
    dict(type='ApplyToFrames', transforms=test_pipeline[:-1]),
    dict(type='PackVideoInputs')]
clip_test_ref_sampler = dict(num_ref_imgs=1, method='test_with_adaptive_stride')

train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='annotations/synthvid_train.json', data_prefix=dict(img_path='train/frames'),
        ref_img_sampler=dict(num_ref_imgs=2, frame_range=9, filter_key_img=True,
                             method='bilateral_uniform'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='VideoSampler'),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='annotations/synthvid_val.json', data_prefix=dict(img_path='val/frames'),
        test_mode=True, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='VideoSampler'),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='annotations/synthvid_test.json', data_prefix=dict(img_path='test/frames'),
        test_mode=True, pipeline=test_pipeline))

val_evaluator = dict(type='VIDMetric', ann_file=data_root + 'annotations/synthvid_val.json')
test_evaluator = dict(type='VIDMetric', ann_file=data_root + 'annotations/synthvid_test.json')

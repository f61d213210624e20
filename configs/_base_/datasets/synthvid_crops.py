# SynthVID object crops for self-supervised pretraining (MoCo v2 / MoCHi) and its k-NN /
# linear-probe evaluation. Generate the data (vmem.datasets.synthetic) with
#   python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid
# which writes data/synthvid/annotations/synthvid_{train,val,test}.json and the frames
# under data/synthvid/<split>/frames (8 classes).
# Training: one item per annotated object; its label is ignored by the model. Two
# MoCo v2 views of the crop are packed as [2, 3, crop_size, crop_size]; the data
# preprocessor hands view 1 as `inputs` and view 2 as `ref_inputs`.
# Evaluation (eval_train_dataloader / eval_test_dataloader, read by the evaluation tools):
# labelled crops, every 4th frame, resized without augmentation.
data_root = 'data/synthvid/'
crop_size = 64

train_pipeline = [
    dict(type='LoadFrame'),
    dict(type='CropObject'),
    dict(type='ContrastiveViews', size=crop_size),
    dict(type='PackContrastiveInputs')]
eval_pipeline = [
    dict(type='LoadFrame'),
    dict(type='CropObject'),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='PackClassificationInputs')]

train_dataloader = dict(
    batch_size=64, num_workers=1, persistent_workers=False, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ObjectCropDataset', data_root=data_root,
        ann_file='annotations/synthvid_train.json', data_prefix=dict(img_path='train/frames'),
        pipeline=train_pipeline))
eval_train_dataloader = dict(
    batch_size=64, num_workers=1, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ObjectCropDataset', data_root=data_root, frame_interval=4,
        ann_file='annotations/synthvid_train.json', data_prefix=dict(img_path='train/frames'),
        pipeline=eval_pipeline))
eval_test_dataloader = dict(
    batch_size=64, num_workers=1, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ObjectCropDataset', data_root=data_root, frame_interval=4,
        ann_file='annotations/synthvid_val.json', data_prefix=dict(img_path='val/frames'),
        pipeline=eval_pipeline))

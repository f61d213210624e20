# COCO Camera Traps (the LILA camera-trap json: images with location, datetime, seq_id,
# frame_num) under data/cct/: annotations/cct_{train,val}.json and images/.
num_classes = 20   # the number of categories in your file (box-level classes, e.g. species)
data_root = 'data/cct/'

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


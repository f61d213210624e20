# COCO 2017 detection (val/test only), laid out as
#   data/coco/annotations/instances_val2017.json, data/coco/val2017/*.jpg
# Images are resized as torchvision's GeneralizedRCNNTransform does at test time: short
# side 800, long side at most 1333, sizes rounded down, bilinear on float images (the
# 'torch' backend), so that torchvision's COCO detectors see what they were trained on.
dataset_type = 'CocoVideoDataset'
data_root = 'data/coco/'

# COCO's 80 classes in category-id order: label i is the i-th of these (CocoMetric's order)
classes = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush')

test_pipeline = [
    dict(type='LoadFrame'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True, rounding='floor', backend='torch'),
    dict(type='PackDetInputs')]

val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, metainfo=dict(classes=classes), load_as_video=False,
        ann_file='annotations/instances_val2017.json', data_prefix=dict(img_path='val2017'),
        test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json', metric='bbox')
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# The synthetic anomaly set (procedural textures with pasted scratches, blobs and missing
# parts, in the MVTec AD layout); generate it in a few seconds with
#   python tools/dataset_converters/make_synthetic_anomaly.py --out-dir data/synthetic_anomaly
dataset_type = 'MVTecDataset'
data_root = 'data/synthetic_anomaly/'
categories = ['dots', 'noise', 'stripes', 'weave']
image_size = 128

train_pipeline = [
    dict(type='LoadFrame'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='PackAnomalyInputs')]
test_pipeline = [
    dict(type='LoadFrame'),
    dict(type='LoadAnomalyMask'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='PackAnomalyInputs')]

train_dataloader = dict(
    batch_size=8, num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, categories=categories, split='train',
                 pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=8, num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, categories=categories, split='test',
                 pipeline=test_pipeline))
test_evaluator = dict(type='AnomalyMetric', pro_max_fpr=0.3)

# MVTec AD (or your own data in its folder layout; see vmem.datasets.MVTecDataset):
#   <data_root>/<category>/train/good, test/<defect>, ground_truth/<defect>/*_mask.png
# Train: the normal images, in order, once (the memory is built from them). Test: every
# image, with its mask. Images are resized to image_size x image_size (the PatchCore paper
# resizes to 256 and centre-crops 224; we resize straight to 224 and keep the whole object).
dataset_type = 'MVTecDataset'
data_root = 'data/mvtec_ad/'
categories = ['bottle', 'cable', 'capsule', 'carpet', 'grid', 'hazelnut', 'leather', 'metal_nut',
              'pill', 'screw', 'tile', 'toothbrush', 'transistor', 'wood', 'zipper']
image_size = 224

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
    batch_size=8, num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, categories=categories, split='train',
                 pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=8, num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, categories=categories, split='test',
                 pipeline=test_pipeline))
test_evaluator = dict(type='AnomalyMetric', pro_max_fpr=0.3)

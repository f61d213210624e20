# The real-texture anomaly set (scikit-image's brick / grass / gravel photos; foreign
# regions from other real photos, scratches and holes; MVTec AD layout); write it in about a
# second, after `make assets`, with
#   python tools/dataset_converters/make_real_texture_anomaly.py --out-dir data/real_texture_anomaly
_base_ = ['./synthetic_anomaly.py']
data_root = 'data/real_texture_anomaly/'
categories = ['brick']
image_size = 224  # the 160-px crops are resized to the ImageNet models' size

train_pipeline = [
    dict(type='LoadFrame'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='PackAnomalyInputs')]
test_pipeline = [
    dict(type='LoadFrame'),
    dict(type='LoadAnomalyMask'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='PackAnomalyInputs')]
train_dataloader = dict(dataset=dict(data_root=data_root, categories=categories, pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, categories=categories, pipeline=test_pipeline))

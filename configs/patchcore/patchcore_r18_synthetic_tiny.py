# A tiny PatchCore that builds its bank and tests on CPU in well under a minute:
#   python tools/dataset_converters/make_synthetic_anomaly.py --out-dir data/synthetic_anomaly
#   python tools/train.py configs/patchcore/patchcore_r18_synthetic_tiny.py
#   python tools/test.py configs/patchcore/patchcore_r18_synthetic_tiny.py \
#       work_dirs/patchcore_r18_synthetic_tiny/epoch_1.pth
# ResNet-18 layer2 + layer3 (random weights: no hub here), 128-px images (a 16 x 16 patch
# grid), 256-d patches, a 10% coreset, one category ('weave'; one bank per category).
_base_ = [
    '../_base_/datasets/synthetic_anomaly.py',
    '../_base_/schedules/memory_bank_build.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='PatchCore',
    backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(2, 3)),
    neighbourhood=3, target_dim=256, coreset_ratio=0.1, num_neighbours=1,
    reweight_neighbours=9, sigma=4.0)
train_dataloader = dict(dataset=dict(categories=['weave']))
test_dataloader = dict(dataset=dict(categories=['weave']))
default_hooks = dict(logger=dict(interval=5))
randomness = dict(seed=0)

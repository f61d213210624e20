# PatchCore on MVTec AD with the paper's settings (Roth et al., CVPR 2022): WideResNet-50-2
# layer2 + layer3, 3x3 neighbourhood averaging, patch features pooled to 1024 dims, a
# greedy k-center coreset of 10% of the training patches, nearest-neighbour (k=1) patch
# scores, the image score reweighted with b=9 bank neighbours, maps smoothed with sigma=4.
#   python tools/train.py configs/patchcore/patchcore_wrn50_mvtec_ad.py   # one pass, builds the bank
#   python tools/test.py configs/patchcore/patchcore_wrn50_mvtec_ad.py work_dirs/patchcore_wrn50_mvtec_ad/epoch_1.pth
# The published numbers need ImageNet weights, which cannot be downloaded here: point
# init_cfg at a local timm/torchvision wide_resnet50_2 state dict, e.g.
#   --cfg-options +model.backbone.init_cfg.type=Pretrained +model.backbone.init_cfg.checkpoint=wrn50.pth
# One bank per category (as in the paper): train with categories=[...] one at a time, e.g.
#   --cfg-options "train_dataloader.dataset.categories=['bottle']" "test_dataloader.dataset.categories=['bottle']"
# 1% coreset (PatchCore-1%): model.coreset_ratio=0.01.
_base_ = [
    '../_base_/datasets/mvtec_ad.py',
    '../_base_/schedules/memory_bank_build.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='PatchCore',
    backbone=dict(type='TimmBackbone', model_name='wide_resnet50_2', out_indices=(2, 3)),
    neighbourhood=3, target_dim=1024, coreset_ratio=0.1, num_neighbours=1,
    reweight_neighbours=9, sigma=4.0)
# a category at a time: one bank must not mix categories
train_dataloader = dict(dataset=dict(categories=['bottle']))
test_dataloader = dict(dataset=dict(categories=['bottle']))

# PatchCore with real ImageNet features on real photographs: torchvision's MobileNetV2 file
# (fetched by `make assets`), its stride-8 and stride-16 stages (blocks 2 and 4, as PatchCore
# takes WRN-50's layer2 and layer3), on one category of the real-texture set (one bank per
# category; --cfg-options train_dataloader.dataset.categories=[grass] test_dataloader...).
#   python tools/dataset_converters/make_real_texture_anomaly.py --out-dir data/real_texture_anomaly
#   python tools/train.py configs/patchcore/patchcore_mobilenetv2_real_textures.py
#   python tools/test.py configs/patchcore/patchcore_mobilenetv2_real_textures.py \
#       work_dirs/patchcore_mobilenetv2_real_textures/epoch_1.pth
# demo/anomaly_quick_start.py runs all three categories and writes heat maps.
_base_ = [
    '../_base_/datasets/real_texture_anomaly.py',
    '../_base_/schedules/memory_bank_build.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='PatchCore',
    backbone=dict(type='TimmBackbone', model_name='mobilenetv2_100', out_indices=(2, 3),
                  init_cfg=dict(type='Pretrained', checkpoint='.cache/assets/mobilenet_v2-b0353104.pth')),
    # 32 + 96 channels: thin enough to keep whole (no channel pooling)
    neighbourhood=3, target_dim=None, coreset_ratio=0.1, num_neighbours=1,
    reweight_neighbours=9, sigma=4.0)
default_hooks = dict(logger=dict(interval=5))
randomness = dict(seed=0)

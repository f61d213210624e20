# SAM 2.1 Hiera-T (the official architecture) for semi-supervised VOS on DAVIS 2017 val.
# Convert an official checkpoint once, then test:
#   python tools/model_converters/sam2_to_vmem.py sam2.1_hiera_tiny.pt checkpoints/sam2.1_hiera_tiny_vmem.pth
#   python tools/test.py configs/sam2/sam2.1_hiera_tiny_davis.py checkpoints/sam2.1_hiera_tiny_vmem.pth
# Frames are resized to 1024x1024 (not keeping the aspect ratio) as the official predictor
# does; --cfg-options can set another input size (any multiple of 32).
_base_ = ['../_base_/datasets/davis2017.py', '../_base_/default_runtime.py']

hiera = 'sam2_hiera_tiny'   # also sam2_hiera_small, sam2_hiera_base_plus, sam2_hiera_large
model = dict(
    type='SAM2Tracker',
    data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=32),
    network=dict(image_encoder=dict(trunk=dict(model_name=hiera)), sam21=True),
    memory=dict(num_recent_maps=6, num_recent_pointers=15, max_prompted=4))

input_size = (1024, 1024)
test_pipeline = [
    dict(type='LoadFrame'),
    dict(type='LoadVOSAnnotations'),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='MasksToBoxes'),
    dict(type='PackDetInputs')]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

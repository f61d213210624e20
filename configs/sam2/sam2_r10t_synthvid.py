# The tiny SynthVID tracker with a convolutional trunk (timm's ResNet-10-T, the detectors'
# backbone) and the focal term weighted 1 instead of SAM 2's 20. From scratch on 2 CPU cores
# both made segmentation learn faster in ad-hoc box-prompt runs (2026-11-24; see the README).
# Not loadable from official checkpoints (the trunk is not Hiera).
#   python tools/train.py configs/sam2/sam2_r10t_synthvid.py
#   python tools/test.py configs/sam2/sam2_r10t_synthvid.py CKPT [--cfg-options model.memory.prompted_only=True]
_base_ = ['./sam2_tiny_synthvid.py']
model = dict(network=dict(image_encoder=dict(trunk=dict(_delete_=True, model_name='resnet10t'))),
             loss_weights=dict(mask=1.0))

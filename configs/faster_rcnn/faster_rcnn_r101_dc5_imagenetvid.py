# Single-frame baseline of the VID papers (SELSA, MAMBA): Faster R-CNN R-101-DC5,
# 1000x600 images, 30 ImageNet VID classes, 7 epochs over VID + DET.
# Train: tools/dist_train.sh configs/faster_rcnn/faster_rcnn_r101_dc5_imagenetvid.py 8
# The backbone starts from ImageNet weights in a local file (no hub access needed):
#   --cfg-options model.backbone.init_cfg.checkpoint=/path/to/resnet101.pth
_base_ = [
    '../_base_/models/faster_rcnn_r50_dc5.py',
    '../_base_/datasets/imagenet_vid.py',
    '../_base_/schedules/vid_7e.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(
    model_name='resnet101',
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet101_imagenet.pth')))

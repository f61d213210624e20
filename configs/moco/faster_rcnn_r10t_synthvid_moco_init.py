# The tiny SynthVID Faster R-CNN with its backbone initialised from a MoCo checkpoint
# (the query encoder's backbone; layer4, the projection head, the key encoder and the
# queue are not used), trained at a low budget: 500 iterations instead of 3000, no lr drop.
#   python tools/train.py configs/moco/mocov2_r10t_synthvid_crops.py
#   python tools/train.py configs/moco/faster_rcnn_r10t_synthvid_moco_init.py
# Another checkpoint (MoCHi, hue 0.5, ...):
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/mocov2_r10t_synthvid_crops_hue/iter_1500.pth
# The random-init baseline at the same budget: faster_rcnn_r10t_synthvid_random_init.py.
_base_ = ['../faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py']
model = dict(backbone=dict(init_cfg=dict(
    type='Pretrained', checkpoint='work_dirs/mocov2_r10t_synthvid_crops/iter_1500.pth',
    prefix='backbone.body.')))
max_iters = 500
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50)]

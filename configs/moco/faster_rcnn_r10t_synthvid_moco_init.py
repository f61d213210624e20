# The tiny SynthVID Faster R-CNN with its backbone initialised from a MoCo checkpoint
# (the query encoder's backbone; layer4, the projection head, the key encoder and the
# queue are not used), trained at a low budget: 500 iterations instead of 3000.
#   python tools/train.py configs/moco/mocov2_r10t_synthvid_crops.py
#   python tools/train.py configs/moco/faster_rcnn_r10t_synthvid_moco_init.py
# Another checkpoint (MoCHi, temporal):
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/mochi_r10t_synthvid_crops/iter_1500.pth
# The random-init baseline at the same budget is the plain tiny config with the same
# schedule: faster_rcnn_r10t_synthvid_random_init.py.
_base_ = ['./faster_rcnn_r10t_synthvid_random_init.py']
model = dict(backbone=dict(init_cfg=dict(
    type='Pretrained', checkpoint='work_dirs/mocov2_r10t_synthvid_crops/iter_1500.pth',
    prefix='backbone.body.')))

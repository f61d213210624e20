# The tiny SynthVID Faster R-CNN from random weights at a low budget (500 iterations,
# no lr drop): the baseline of faster_rcnn_r10t_synthvid_moco_init.py.
_base_ = ['../faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py']
max_iters = 500
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50)]

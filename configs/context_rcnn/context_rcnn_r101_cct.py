# Context R-CNN (Beery et al., CVPR 2020) in the paper's setting, on a COCO Camera Traps
# file (the LILA camera-trap json: images with location, datetime, seq_id, frame_num):
# Faster R-CNN R-101 (stride 16), per camera up to 2000 context entries within a month,
# attention bottleneck 2048, softmax temperature 0.01.
#   1. train the single-frame detector: this file's data with type='FasterRCNN' (or any
#      FasterRCNN config over the same classes), giving BASE_CKPT;
#   2. python tools/context_rcnn/build_memory.py configs/context_rcnn/context_rcnn_r101_cct.py BASE_CKPT \
#          --split train --out data/cct/memory_train.safetensors      (and --split val)
#   3. tools/dist_train.sh configs/context_rcnn/context_rcnn_r101_cct.py 8 --cfg-options load_from=BASE_CKPT
#   4. tools/dist_test.sh configs/context_rcnn/context_rcnn_r101_cct.py CKPT 8 \
#          --cfg-options model.memory_file=data/cct/memory_val.safetensors
# As in the paper, the whole detector trains (freeze_detector=False) while its memory
# comes from the frozen single-frame detector's bank. Which boxes a frame stores
# (max_per_frame, score_thr), the input size and the schedule are ours, not the paper's.
_base_ = ['../_base_/models/faster_rcnn_r50_dc5.py', '../_base_/datasets/cct.py', '../_base_/schedules/cct_12e.py',
          '../_base_/default_runtime.py']

model = dict(
    type='ContextRCNN',
    backbone=dict(model_name='resnet101'),
    roi_head=dict(num_classes={{_base_.num_classes}}, box_head=dict(fc_channels=1024)),
    camera_memory=dict(capacity=2000, horizon='month', max_per_frame=8, score_thr=0.5),
    attention=dict(bottleneck_dim=2048, temperature=0.01, num_keys=None),
    memory_file='data/cct/memory_train.safetensors',
    inference_mode='offline', freeze_detector=False)

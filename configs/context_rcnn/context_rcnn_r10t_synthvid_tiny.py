# Context R-CNN on SynthVID cameras with recurring objects (2 CPU cores). Each camera of
# these splits has 6 recurring objects (class, colours, size) that its videos draw from;
# val and test use cameras never seen in training, so what a camera's objects look like
# can only come from its memory.
#   python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid_cam --no-videos --camera-roster 6 \
#       --splits cam_train32 --num-videos 192 --num-cameras 32 --first-camera 100
#   (the same with --splits cam_val16 --num-videos 128 --num-cameras 16 --first-camera 200,
#    and --splits cam_test16 --num-videos 128 --num-cameras 16 --first-camera 300)
# 16 evaluation cameras (96 objects per split): with 4 (24 objects), a class's AP rested on
# about 3 objects and the gain over the baseline flipped sign between val and test (README).
# The frozen detector is the single-frame baseline (configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py,
# trained on data/synthvid: BASE_CKPT). Its memory banks, one per split:
#   python tools/context_rcnn/build_memory.py configs/context_rcnn/context_rcnn_r10t_synthvid_tiny.py BASE_CKPT \
#       --split train --out work_dirs/context_rcnn_tiny/memory_cam_train32.safetensors
#   (and --split test --out .../memory_cam_test16.safetensors; a val bank: --split test with
#    the val cfg-options below)
#   python tools/train.py configs/context_rcnn/context_rcnn_r10t_synthvid_tiny.py --cfg-options load_from=BASE_CKPT
#   python tools/test.py configs/context_rcnn/context_rcnn_r10t_synthvid_tiny.py CKPT \
#       --cfg-options model.memory_file=work_dirs/context_rcnn_tiny/memory_cam_test16.safetensors
#   (on val: also test_dataloader.dataset.ann_file=annotations/synthvid_cam_val16.json
#    test_dataloader.dataset.data_prefix.img_path=cam_val16/frames
#    test_evaluator.ann_file=data/synthvid_cam/annotations/synthvid_cam_val16.json)
# Only the attention and the box predictor train (freeze_detector); the same run with
# model.memory_file=None is the baseline with the same training budget.
_base_ = ['../faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py']
data_root = 'data/synthvid_cam/'

model = dict(
    type='ContextRCNN',
    camera_memory=dict(capacity=2000, horizon='month', max_per_frame=8, score_thr=0.5),
    # Unlike the paper's (ReLU projections, temperature 0.01): linear projections started so
    # that a RoI first attends to the entries with features like its own, a softer softmax,
    # values from the features only, and a learned 'nothing' key (it made training steadier;
    # at test it takes almost no weight). The query and key projections stay as initialised:
    # trained, they drifted to entries of other objects (README). A 64-wide bottleneck
    # halves the search of a large bank. Chosen on cam_val16 over three seeds.
    attention=dict(bottleneck_dim=64, temperature=0.1, num_keys=None, embedding='linear', matched_init=True,
                   null_key=0.5, learn_matching=False),
    values_from='features',
    # half of the training frames read no memory, so the box predictor also works without it
    memory_dropout=0.5,
    memory_file='work_dirs/context_rcnn_tiny/memory_cam_train32.safetensors',
    inference_mode='offline', freeze_detector=True)
load_from = 'work_dirs/faster_rcnn_r10t_synthvid_tiny/iter_3000.pth'   # the single-frame baseline, frozen

train_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='annotations/synthvid_cam_train32.json',
    data_prefix=dict(img_path='cam_train32/frames')))
test_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='annotations/synthvid_cam_test16.json', data_prefix=dict(img_path='cam_test16/frames')))
test_evaluator = dict(ann_file=data_root + 'annotations/synthvid_cam_test16.json')

# The frozen detector makes an iteration cheap. No validation inside training: val needs
# its own bank (model.memory_file), so evaluate with tools/test.py.
val_dataloader, val_cfg, val_evaluator = None, None, None
train_cfg = dict(max_iters=1000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=1000, milestones=[800], gamma=0.1)]
default_hooks = dict(checkpoint=dict(interval=1000))

# Context R-CNN on torchvision's COCO Faster R-CNN R50-FPN, for a COCO Camera Traps file:
# context_rcnn_r101_cct.py's memory, attention, data and schedule on the R50-FPN detector,
# started from the converted COCO weights. The box predictor (COCO's 80 classes -> your
# num_classes) and the attention start fresh; load_from lists them as not loaded.
#   python tools/model_converters/torchvision_to_vmem.py fasterrcnn_resnet50_fpn_coco-258fb6c6.pth \
#       checkpoints/faster_rcnn_r50_fpn_coco.pth --arch fasterrcnn_resnet50_fpn
#   steps 1-4 of context_rcnn_r101_cct.py with this config; step 1 starts from load_from below.
_base_ = ['../_base_/models/faster_rcnn_r50_fpn.py', '../_base_/datasets/cct.py',
          '../_base_/schedules/cct_12e.py', '../_base_/default_runtime.py']

model = dict(
    type='ContextRCNN',
    roi_head=dict(num_classes={{_base_.num_classes}}, extra_class_logits=0),
    camera_memory=dict(capacity=2000, horizon='month', max_per_frame=8, score_thr=0.5),
    attention=dict(bottleneck_dim=2048, temperature=0.01, num_keys=None),
    memory_file='data/cct/memory_train.safetensors',
    inference_mode='offline', freeze_detector=False)
load_from = 'checkpoints/faster_rcnn_r50_fpn_coco.pth'

# torchvision's fasterrcnn_resnet50_fpn (COCO box AP 37.0 in torchvision's table) in vmem:
# the same architecture and test-time processing, for its converted COCO weights.
#   python tools/model_converters/torchvision_to_vmem.py fasterrcnn_resnet50_fpn_coco-258fb6c6.pth \
#       checkpoints/faster_rcnn_r50_fpn_coco.pth --arch fasterrcnn_resnet50_fpn
#   python demo/video_demo.py VIDEO configs/faster_rcnn/faster_rcnn_r50_fpn_coco.py \
#       checkpoints/faster_rcnn_r50_fpn_coco.pth --out out.mp4
#   python tools/test.py configs/faster_rcnn/faster_rcnn_r50_fpn_coco.py checkpoints/faster_rcnn_r50_fpn_coco.pth
# Evaluation and inference only (no COCO training schedule); memory models start from
# these weights with load_from (docs/coco_detectors.md).
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/default_runtime.py',
]

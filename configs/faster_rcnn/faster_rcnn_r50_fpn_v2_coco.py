# torchvision's fasterrcnn_resnet50_fpn_v2 (COCO box AP 46.7 in torchvision's table) in
# vmem: faster_rcnn_r50_fpn_coco.py with v2's changes: BatchNorm in the FPN, an RPN head of
# two 3x3 convs, a box head of 4 conv-BN-ReLU (256) + 1 fc (1024), and a backbone whose
# BatchNorm layers are not frozen (torchvision's v2 trains them; with 1-2 images per GPU
# set model.backbone.norm_eval=True). Test-time processing is the same.
#   python tools/model_converters/torchvision_to_vmem.py fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth \
#       checkpoints/faster_rcnn_r50_fpn_v2_coco.pth --arch fasterrcnn_resnet50_fpn_v2
_base_ = ['./faster_rcnn_r50_fpn_coco.py']

model = dict(
    backbone=dict(norm_eval=False),
    neck=dict(norm='BN'),
    rpn_head=dict(num_convs=2),
    roi_head=dict(box_head=dict(
        _delete_=True, type='ConvFCBoxHead', in_channels=256, num_convs=4, conv_channels=256,
        num_fcs=1, fc_channels=1024, norm='BN')))

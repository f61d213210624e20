# Faster R-CNN R-50-FPN with the architecture and test-time settings of torchvision's
# fasterrcnn_resnet50_fpn: ResNet-50 C2..C5 -> FPN 256 (+ a max-pooled P6 for the RPN),
# one anchor size per level x 3 aspect ratios, RoIAlign 7x7 (sampling 2) over P2..P5, a
# two-fc box head of 1024. COCO's 80 classes; the 10 logits torchvision's predictor keeps
# for unused ('N/A') category ids stay in the softmax (extra_class_logits), so converted
# torchvision weights give torchvision's scores (see docs/coco_detectors.md).
model = dict(
    type='FasterRCNN',
    # torchvision's ImageNet mean/std on the 0-255 scale, padding to multiples of 32
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        pad_size_divisor=32),
    # torchvision trains layer2..layer4 (trainable_backbone_layers=3) with frozen BatchNorm
    backbone=dict(
        type='TimmBackbone', model_name='resnet50', pretrained=False,
        out_indices=(1, 2, 3, 4), frozen_stages=1, norm_eval=True),
    neck=dict(type='FPN', in_channels=(256, 512, 1024, 2048), out_channels=256, add_pool_level=True),
    rpn_head=dict(
        type='RPNHead', in_channels=256, num_convs=1,
        anchor_sizes=((32,), (64,), (128,), (256,), (512,)), aspect_ratios=((0.5, 1.0, 2.0),),
        pre_nms_top_n_train=2000, post_nms_top_n_train=2000,
        pre_nms_top_n_test=1000, post_nms_top_n_test=1000, nms_thresh=0.7, min_score=0.0,
        fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256, positive_fraction=0.5),
    roi_head=dict(
        type='StandardRoIHead', num_classes=80, extra_class_logits=10,
        featmap_names=('0', '1', '2', '3'), roi_size=7, sampling_ratio=2,
        box_head=dict(type='TwoFCBoxHead', in_channels=256, fc_channels=1024),
        fg_iou_thresh=0.5, bg_iou_thresh=0.5, batch_size_per_image=512, positive_fraction=0.25,
        bbox_reg_weights=(10.0, 10.0, 5.0, 5.0), loss_bbox_beta=1 / 9,
        score_thr=0.05, nms_thresh=0.5, max_per_img=100, min_box_size=1e-2))

# Faster R-CNN, ResNet-50 with a dilated last stage (DC5, stride 16), one feature map,
# reduced to 512 channels: the single-frame detector under SELSA/MAMBA (mmtracking's
# faster_rcnn_r50_dc5). 300 proposals at test time, as the VID papers use.
model = dict(
    type='FasterRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        pad_size_divisor=16),
    backbone=dict(
        type='TimmBackbone', model_name='resnet50', pretrained=False,
        out_indices=(4,), dilate_last_stage=True, frozen_stages=1, norm_eval=True),
    neck=dict(type='ChannelMapper', in_channels=(2048,), out_channels=512, kernel_size=3),
    rpn_head=dict(
        type='RPNHead', in_channels=512,
        anchor_sizes=((64, 128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),),
        pre_nms_top_n_train=6000, post_nms_top_n_train=600,
        pre_nms_top_n_test=6000, post_nms_top_n_test=300, nms_thresh=0.7),
    roi_head=dict(
        type='StandardRoIHead', num_classes=30,
        batch_size_per_image=256, positive_fraction=0.25,
        box_head=dict(type='TwoFCBoxHead', in_channels=512, fc_channels=1024),
        score_thr=0.0001, nms_thresh=0.5, max_per_img=100))

# MAMBA, instance memory, on torchvision's COCO Faster R-CNN R50-FPN, fine-tuned on ImageNet
# VID (+ DET) from the COCO weights: the detector starts trained; the memory (GEO after each
# fc layer) and the 30-class predictor start fresh. Data, sampling and schedule are those of
# mamba_ins_r101_dc5_imagenetvid.py.
#   python tools/model_converters/torchvision_to_vmem.py fasterrcnn_resnet50_fpn_coco-258fb6c6.pth \
#       checkpoints/faster_rcnn_r50_fpn_coco.pth --arch fasterrcnn_resnet50_fpn
#   tools/dist_train.sh configs/mamba/mamba_ins_r50_fpn_imagenetvid_from_coco.py 8
# load_from is non-strict: the log lists the keys it did not load (the memory modules, and
# roi_head.fc_cls / fc_reg, whose 80 COCO classes become VID's 30).
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn.py',
    '../_base_/datasets/imagenet_vid.py',
    '../_base_/schedules/vid_7e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='MAMBA',
    inference_mode='online',
    instance_memory=dict(capacity=20000, key_set='random', num_keys=2000, write_topk=75, num_heads=16),
    pixel_memory=None,
    roi_head=dict(num_classes=30, extra_class_logits=0))
load_from = 'checkpoints/faster_rcnn_r50_fpn_coco.pth'

whole_video_refs = dict(num_ref_imgs=2, frame_range=100000, filter_key_img=True, method='bilateral_uniform')
train_dataloader = dict(dataset=dict(datasets=[
    dict(type='CocoVideoDataset', data_root={{_base_.data_root}},
         ann_file='annotations/imagenet_vid_train.json', data_prefix=dict(img_path='Data/VID'),
         key_img_sampler=dict(vid_train_frames_only=True), ref_img_sampler=whole_video_refs,
         filter_cfg=dict(filter_empty_gt=True), pipeline={{_base_.train_pipeline}}),
    dict(type='CocoVideoDataset', data_root={{_base_.data_root}}, load_as_video=False,
         ann_file='annotations/imagenet_det_30cls.json', data_prefix=dict(img_path='Data/DET'),
         ref_img_sampler=whole_video_refs, filter_cfg=dict(filter_empty_gt=True),
         pipeline={{_base_.train_pipeline}})]))
val_dataloader = dict(dataset=dict(ref_img_sampler={{_base_.clip_test_ref_sampler}},
                                   pipeline={{_base_.clip_test_pipeline}}))
test_dataloader = dict(dataset=dict(ref_img_sampler={{_base_.clip_test_ref_sampler}},
                                    pipeline={{_base_.clip_test_pipeline}}))

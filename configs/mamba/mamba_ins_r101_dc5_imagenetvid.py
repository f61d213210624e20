# MAMBA, instance memory only (the level the released MAMBA code had), on Faster R-CNN
# R-101-DC5, ImageNet VID + DET, 1000x600. The paper's settings: a bank of 20000 proposal
# features per fc level (random replacement), key sets of 2000 random entries, the top 75
# proposals of a frame stored, GEO with 16 heads after each of the box head's two fc layers.
#   tools/dist_train.sh configs/mamba/mamba_ins_r101_dc5_imagenetvid.py 8
#   tools/dist_test.sh configs/mamba/mamba_ins_r101_dc5_imagenetvid.py CKPT 8           # online
#   ... --cfg-options model.inference_mode=offline test_dataloader.dataset.ref_img_sampler.num_ref_imgs=14
_base_ = ['../faster_rcnn/faster_rcnn_r101_dc5_imagenetvid.py']

model = dict(
    type='MAMBA',
    inference_mode='online',
    instance_memory=dict(capacity=20000, key_set='random', num_keys=2000, write_topk=75, num_heads=16),
    pixel_memory=None)

# Training clips: key frame + 2 references drawn from the whole video (one before, one
# after the key frame); DET images are one-frame videos whose references are themselves.
whole_video_refs = dict(num_ref_imgs=2, frame_range=100000, filter_key_img=True, method='bilateral_uniform')
train_dataloader = dict(dataset=dict(datasets=[
    dict(type='CocoVideoDataset', data_root=_base_.data_root,
         ann_file='annotations/imagenet_vid_train.json', data_prefix=dict(img_path='Data/VID'),
         key_img_sampler=dict(vid_train_frames_only=True), ref_img_sampler=whole_video_refs,
         filter_cfg=dict(filter_empty_gt=True), pipeline=_base_.train_pipeline),
    dict(type='CocoVideoDataset', data_root=_base_.data_root, load_as_video=False,
         ann_file='annotations/imagenet_det_30cls.json', data_prefix=dict(img_path='Data/DET'),
         ref_img_sampler=whole_video_refs, filter_cfg=dict(filter_empty_gt=True),
         pipeline=_base_.train_pipeline)]))

# Testing packs clips (see clip_test_pipeline in the dataset's _base_ file).
val_dataloader = dict(dataset=dict(ref_img_sampler=_base_.clip_test_ref_sampler,
                                   pipeline=_base_.clip_test_pipeline))
test_dataloader = dict(dataset=dict(ref_img_sampler=_base_.clip_test_ref_sampler,
                                    pipeline=_base_.clip_test_pipeline))

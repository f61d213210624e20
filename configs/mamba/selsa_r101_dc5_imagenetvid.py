# SELSA-style baseline in MAMBA's code on Faster R-CNN R-101-DC5, ImageNet VID + DET,
# 1000x600: instance-level aggregation over the proposals of reference frames only, no
# long-term bank. Trained as SELSA is (key frame + 2 references within +-9 frames, the
# base dataset config). The memory is a FIFO of (14 references x 300 proposals): online,
# the last 14 frames; offline (SELSA's test protocol: 14 frames spread over the video,
# memory frozen after them):
#   tools/dist_test.sh configs/mamba/selsa_r101_dc5_imagenetvid.py CKPT 8 --cfg-options \
#       model.inference_mode=offline test_dataloader.dataset.ref_img_sampler.num_ref_imgs=14
_base_ = ['../faster_rcnn/faster_rcnn_r101_dc5_imagenetvid.py']

num_test_refs = 14
proposals_per_frame = 300  # post_nms_top_n_test
model = dict(
    type='MAMBA',
    inference_mode='online',
    write_frames_offline=False,
    instance_memory=dict(capacity=num_test_refs * proposals_per_frame, write_policy='FIFO',
                         key_set='all', num_keys=None, write_topk=proposals_per_frame, num_heads=16))

# Testing packs clips (see clip_test_pipeline in the dataset's _base_ file).
val_dataloader = dict(dataset=dict(ref_img_sampler=_base_.clip_test_ref_sampler,
                                   pipeline=_base_.clip_test_pipeline))
test_dataloader = dict(dataset=dict(ref_img_sampler=_base_.clip_test_ref_sampler,
                                    pipeline=_base_.clip_test_pipeline))

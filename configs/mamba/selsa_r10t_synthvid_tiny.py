# SELSA-style baseline in MAMBA's code: instance-level aggregation over the proposals of
# reference frames only (no long-term bank, no pixel memory), on the tiny SynthVID
# Faster R-CNN. The instance memory is a FIFO holding (12 references x 100 proposals):
# online, the last 12 frames; offline (SELSA's own test protocol), 12 frames spread over
# the video, frozen after frame 0 (write_frames_offline=False):
#   python tools/test.py configs/mamba/selsa_r10t_synthvid_tiny.py CKPT --cfg-options \
#       model.inference_mode=offline test_dataloader.dataset.ref_img_sampler.num_ref_imgs=12
# Training clips: key frame + 2 references within +-9 frames, as SELSA trains.
_base_ = ['../faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py']

num_test_refs = 12
proposals_per_frame = 100  # the tiny detector's post_nms_top_n_test
model = dict(
    type='MAMBA',
    inference_mode='online',
    write_frames_offline=False,
    instance_memory=dict(capacity=num_test_refs * proposals_per_frame, write_policy='FIFO',
                         key_set='all', num_keys=None, write_topk=proposals_per_frame, num_heads=16))

train_dataloader = dict(dataset=dict(
    ref_img_sampler=dict(_delete_=True, num_ref_imgs=2, frame_range=9, filter_key_img=True,
                         method='bilateral_uniform'),
    pipeline=_base_.train_pipeline))  # ApplyToFrames + PackVideoInputs of _base_/datasets/synthvid.py

# Testing packs clips (see clip_test_pipeline in the dataset's _base_ file).
val_dataloader = dict(dataset=dict(ref_img_sampler=_base_.clip_test_ref_sampler,
                                   pipeline=_base_.clip_test_pipeline))
test_dataloader = dict(dataset=dict(ref_img_sampler=_base_.clip_test_ref_sampler,
                                    pipeline=_base_.clip_test_pipeline))

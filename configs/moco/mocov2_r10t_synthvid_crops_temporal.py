# MoCo v2 with temporal positives on SynthVID object crops: the second view of each
# object is its crop from another frame of the video, at most 8 frames away (then the
# same MoCo v2 augmentation), so the features must also ignore how the object moves,
# turns and degrades over time. Otherwise the tiny MoCo v2 config.
_base_ = ['./mocov2_r10t_synthvid_crops.py']
train_dataloader = dict(dataset=dict(
    positive_max_offset=8,
    pipeline=[
        dict(type='ApplyToFrames', transforms=[dict(type='LoadFrame'), dict(type='CropObject')]),
        dict(type='ContrastiveViews', size=64),
        dict(type='PackContrastiveInputs')]))

# MoCHi on SynthVID object crops with full-range hue jitter (see mocov2_r10t_synthvid_crops_hue.py
# for why): the tiny MoCo v2 config with that augmentation and mochi_r10t_synthvid_crops.py's
# hard-negative mixing.
_base_ = ['./mocov2_r10t_synthvid_crops.py']
model = dict(hard_negative_mixer=dict(
    type='HardNegativeMixer', num_hardest=256, num_mixed=256, num_query_mixed=64))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadFrame'),
    dict(type='CropObject'),
    dict(type='ContrastiveViews', size=64, jitter=(0.4, 0.4, 0.4, 0.5)),
    dict(type='PackContrastiveInputs')]))

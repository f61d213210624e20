# MoCo v2 on SynthVID object crops with full-range hue jitter. SynthVID draws each
# object's colours at random, independently of its class (shape x texture), and an
# object keeps its colours over the video: with MoCo v2's mild hue jitter (0.1) colour
# alone tells instances apart, a shortcut that instance discrimination takes instead of
# shape and texture. Hue jitter 0.5 (any rotation of the colour wheel, drawn per view)
# removes that shortcut. Otherwise the tiny MoCo v2 config.
_base_ = ['./mocov2_r10t_synthvid_crops.py']
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadFrame'),
    dict(type='CropObject'),
    dict(type='ContrastiveViews', size=64, jitter=(0.4, 0.4, 0.4, 0.5)),
    dict(type='PackContrastiveInputs')]))

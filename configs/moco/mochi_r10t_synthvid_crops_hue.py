# MoCHi on SynthVID object crops with full-range hue jitter (see mocov2_r10t_synthvid_crops_hue.py
# for why): the hue config plus mochi_r10t_synthvid_crops.py's hard-negative mixing.
_base_ = ['./mocov2_r10t_synthvid_crops_hue.py']
model = dict(hard_negative_mixer=dict(
    type='HardNegativeMixer', num_hardest=256, num_mixed=256, num_query_mixed=64))

# MoCHi on SynthVID object crops: the MoCo v2 tiny config plus hard-negative mixing. The
# queue is 4096 (not ImageNet's 65536), so N, s and s' are scaled down with it: the 256
# hardest entries (1/16 of the queue, as 1024 of 16384 in the paper's IN-100 runs), 256
# mixed negatives among them and 64 mixed with the query.
_base_ = ['./mocov2_r10t_synthvid_crops.py']
model = dict(hard_negative_mixer=dict(
    type='HardNegativeMixer', num_hardest=256, num_mixed=256, num_query_mixed=64))

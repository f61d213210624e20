# MoCHi (Kalantidis et al. 2020) on ImageNet: MoCo v2 plus, per query, the 1024 hardest
# queue entries, 1024 negatives mixed among them and 512 mixed with the query (the paper's
# MoCHi (1024, 1024, 512)).
_base_ = ['./mocov2_r50_imagenet.py']
model = dict(hard_negative_mixer=dict(
    type='HardNegativeMixer', num_hardest=1024, num_mixed=1024, num_query_mixed=512))

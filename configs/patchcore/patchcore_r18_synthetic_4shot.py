# Few-shot PatchCore: the bank is built from 4 normal images of the category (drawn with
# shot_seed) and 9 augmented copies of each (flips, right-angle rotations, 4 shifts of
# 1/16 of the image), then every patch is kept (coreset_ratio=1: the bank is small).
# 1/2/8-shot: train_dataloader.dataset.num_shots=1|2|8.
_base_ = ['./patchcore_r18_synthetic_tiny.py']
model = dict(coreset_ratio=1.0,
             support_augmentations=['hflip', 'vflip', 'rot90', 'rot180', 'rot270', 'shift'])
train_dataloader = dict(batch_size=4, dataset=dict(num_shots=4, shot_seed=0))

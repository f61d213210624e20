# A tiny SAM 2-style tracker trained from scratch on SynthVID (2 CPU cores):
#   python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid
#   python tools/train.py configs/sam2/sam2_tiny_synthvid.py
#   python tools/test.py configs/sam2/sam2_tiny_synthvid.py CKPT        # semi-supervised VOS, J&F
# The same model restricted to its prompted frames (no memory of tracked frames):
#   python tools/test.py configs/sam2/sam2_tiny_synthvid.py CKPT --cfg-options model.memory.prompted_only=True
# The architecture is SAM 2's (Hiera + FPN, memory attention with axial RoPE, memory
# encoder, object pointers, 7 memory slots) at a fraction of the width and depth.
_base_ = ['../_base_/datasets/synthvid_vos.py', '../_base_/default_runtime.py']

tiny_trunk = dict(model_name='sam2_hiera_tiny', model_kwargs=dict(
    embed_dim=24, num_heads=1, stages=(1, 1, 2, 1), global_att_blocks=(3,), window_spec=(8, 4, 4, 4),
    global_pos_size=(4, 4)))
model = dict(
    type='SAM2Tracker',
    data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=32),
    network=dict(
        image_encoder=dict(trunk=tiny_trunk), dim=64, memory_dim=16, num_maskmem=7,
        memory_attention=dict(num_layers=2, dim_feedforward=256, dropout=0.0),
        mask_decoder=dict(iou_head_hidden_dim=64, transformer=dict(mlp_dim=256, num_heads=4))),
    memory=dict(num_recent_maps=6, num_recent_pointers=15, max_prompted=4, prompted_only=False),
    memory_from_truth=0.0)   # > 0: remember tracked training frames from their true masks (teacher forcing)

train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=2000, milestones=[1700], gamma=0.1)]
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

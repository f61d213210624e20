"""A SAM 2 network small enough for unit tests (0.8M parameters)."""
TINY_TRUNK = dict(model_name='sam2_hiera_tiny', model_kwargs=dict(
    embed_dim=16, num_heads=1, stages=(1, 1, 2, 1), global_att_blocks=(3,), window_spec=(8, 4, 4, 4),
    global_pos_size=(4, 4)))
TINY_NETWORK = dict(image_encoder=dict(trunk=TINY_TRUNK), dim=64, memory_dim=16,
                    memory_attention=dict(num_layers=2, dim_feedforward=128, dropout=0.0),
                    mask_decoder=dict(iou_head_hidden_dim=64, transformer=dict(mlp_dim=128, num_heads=4)))

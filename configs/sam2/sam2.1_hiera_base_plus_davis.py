# SAM 2.1 Hiera-b+ on DAVIS 2017 val; see sam2.1_hiera_tiny_davis.py.
_base_ = ['./sam2.1_hiera_tiny_davis.py']
model = dict(network=dict(image_encoder=dict(trunk=dict(model_name='sam2_hiera_base_plus'))))

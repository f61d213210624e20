# SAM 2 (the July 2024 release, without 2.1's no-object spatial embedding and projected
# pointer time codes) Hiera-T on DAVIS 2017 val; see sam2.1_hiera_tiny_davis.py.
_base_ = ['./sam2.1_hiera_tiny_davis.py']
model = dict(network=dict(sam21=False))

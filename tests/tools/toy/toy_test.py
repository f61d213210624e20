# tools/test.py on a SynthVID split (data_root set by the test) with ToyDetector.
_base_ = ['../../../configs/_base_/datasets/synthvid.py', '../../../configs/_base_/default_runtime.py']
custom_imports = dict(imports=['toy_modules'], allow_failed_imports=False)

model = dict(type='ToyDetector')
test_dataloader = dict(num_workers=0, persistent_workers=False)
test_cfg = dict(type='TestLoop')

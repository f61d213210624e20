# Your own unlabeled images for self-supervised pretraining (MoCo v2 / MoCHi): every
# .jpg/.jpeg/.png/.bmp/.webp file under `image_folder` (sub-folders included), two MoCo v2
# views of each, packed as [2, 3, view_size, view_size]. Point it at your folder with
#   --cfg-options train_dataloader.dataset.data_root=/path/to/images
# or, in a config inheriting this one, train_dataloader = dict(dataset=dict(data_root=...))
# (redefining `image_folder` there does not reach the already-built dict). No images at
# hand? SynthVID frames work too:
#   python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid
# then data_root='data/synthvid/train/frames/'.
image_folder = 'data/my_images/'
view_size = 224

train_pipeline = [
    dict(type='LoadFrame'),
    dict(type='ContrastiveViews', size=view_size),
    dict(type='PackContrastiveInputs')]

train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='UnlabeledImageFolder', data_root=image_folder, pipeline=train_pipeline))

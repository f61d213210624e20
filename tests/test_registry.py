"""Every module registered in a vmem registry is built from a config by this test.

A new registered module must add an example config to EXAMPLE_CONFIGS; the test fails
otherwise, so nothing registered goes unbuilt.
"""
import pytest
from mmengine.registry import DefaultScope

from vmem.registry import ALL_REGISTRIES
from vmem.utils import register_all_modules

register_all_modules(init_default_scope=False)

EXAMPLE_CONFIGS = {
    ('MEMORY_BANKS', 'MemoryBank'): dict(
        type='MemoryBank', capacity=16, dim=8, fields=dict(frame_id='int64'),
        write_policy=dict(type='RandomReplace')),
    ('MEMORY_BANKS', 'GroupedMemoryBank'): dict(
        type='GroupedMemoryBank', capacity_per_group=4, dim=8, fields=dict(time='int64'),
        time_field='time', horizon='day'),
    ('WRITE_POLICIES', 'FIFO'): dict(type='FIFO'),
    ('WRITE_POLICIES', 'RandomReplace'): dict(type='RandomReplace'),
    ('WRITE_POLICIES', 'PinnedRecent'): dict(type='PinnedRecent', max_pinned=1),
    ('WRITE_POLICIES', 'MomentumById'): dict(type='MomentumById', id_field='instance_id'),
    ('METRICS', 'CocoMetric'): dict(type='CocoMetric', metric=['bbox', 'segm'], classwise=True),
    ('METRICS', 'VIDMetric'): dict(type='VIDMetric', motion_groups=True, classwise=True),
    ('DATASETS', 'CocoVideoDataset'): dict(
        type='CocoVideoDataset', ann_file='missing/ann.json', lazy_init=True,
        ref_img_sampler=dict(num_ref_imgs=2, frame_range=9, method='bilateral_uniform')),
    ('DATA_SAMPLERS', 'VideoSampler'): dict(
        type='VideoSampler', rank=0, world_size=1,
        dataset=dict(type='CocoVideoDataset', ann_file='missing/ann.json', lazy_init=True)),
    ('MODELS', 'SAM2Tracker'): dict(type='SAM2Tracker', network=dict(
        image_encoder=dict(trunk=dict(model_name='sam2_hiera_tiny', model_kwargs=dict(
            embed_dim=16, stages=(1, 1, 2, 1), global_att_blocks=(3,), window_spec=(8, 4, 4, 4)))),
        dim=64, memory_dim=16)),
    ('METRICS', 'VOSMetric'): dict(type='VOSMetric', data_root='missing/DAVIS', split='val'),
    ('DATASETS', 'DAVISDataset'): dict(type='DAVISDataset', data_root='missing/DAVIS', lazy_init=True),
    ('DATASETS', 'CocoVOSDataset'): dict(type='CocoVOSDataset', ann_file='missing/ann.json', lazy_init=True),
    ('TRANSFORMS', 'LoadVOSAnnotations'): dict(type='LoadVOSAnnotations'),
    ('TRANSFORMS', 'MasksToBoxes'): dict(type='MasksToBoxes'),
    ('TRANSFORMS', 'LoadFrame'): dict(type='LoadFrame'),
    ('TRANSFORMS', 'LoadAnnotations'): dict(type='LoadAnnotations', with_mask=True),
    ('TRANSFORMS', 'Resize'): dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    ('TRANSFORMS', 'RandomChoiceResize'): dict(type='RandomChoiceResize', scales=[(1000, 600), (800, 480)]),
    ('TRANSFORMS', 'RandomFlip'): dict(type='RandomFlip', prob=0.5),
    ('TRANSFORMS', 'Pad'): dict(type='Pad', size_divisor=16),
    ('TRANSFORMS', 'PackDetInputs'): dict(type='PackDetInputs'),
    ('TRANSFORMS', 'Normalize'): dict(type='Normalize'),
    ('TRANSFORMS', 'PackVideoInputs'): dict(type='PackVideoInputs'),
    ('TRANSFORMS', 'ApplyToFrames'): dict(
        type='ApplyToFrames', transforms=[dict(type='LoadFrame'), dict(type='RandomFlip', prob=0.5)]),
    ('HOOKS', 'RandomStateHook'): dict(type='RandomStateHook'),
    ('HOOKS', 'DetVisualizationHook'): dict(type='DetVisualizationHook', show_dir='shown'),
    ('MODELS', 'DetDataPreprocessor'): dict(type='DetDataPreprocessor', pad_size_divisor=32),
    ('MODELS', 'TimmBackbone'): dict(type='TimmBackbone', model_name='resnet18', out_indices=(4,),
                                     dilate_last_stage=True, frozen_stages=1),
    ('MODELS', 'FPN'): dict(type='FPN', in_channels=(64, 128), out_channels=16),
    ('MODELS', 'ChannelMapper'): dict(type='ChannelMapper', in_channels=(64,), out_channels=16),
    ('MODELS', 'RPNHead'): dict(type='RPNHead', in_channels=16, anchor_sizes=((32, 64),)),
    ('MODELS', 'TwoFCBoxHead'): dict(type='TwoFCBoxHead', in_channels=16, fc_channels=32),
    ('MODELS', 'ConvFCBoxHead'): dict(type='ConvFCBoxHead', in_channels=16, num_convs=2, conv_channels=32,
                                      fc_channels=32, norm='GN'),
    ('MODELS', 'StandardRoIHead'): dict(
        type='StandardRoIHead', num_classes=3, box_head=dict(type='TwoFCBoxHead', in_channels=16, fc_channels=32)),
    ('MODELS', 'FasterRCNN'): dict(
        type='FasterRCNN',
        backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(3,)),
        rpn_head=dict(type='RPNHead', in_channels=256, anchor_sizes=((32, 64),)),
        roi_head=dict(type='StandardRoIHead', num_classes=3,
                      box_head=dict(type='TwoFCBoxHead', in_channels=256, fc_channels=32))),
    ('MODELS', 'GEO'): dict(type='GEO', dim=32, num_heads=4, num_layers=2),
    ('MODELS', 'InstanceMemory'): dict(type='InstanceMemory', dim=32, capacity=100, num_keys=20, num_heads=4),
    ('MODELS', 'PixelMemory'): dict(type='PixelMemory', dim=32, capacity=100, num_keys=20, num_heads=4),
    ('MODELS', 'ScoreMemory'): dict(type='ScoreMemory', num_frames=4),
    ('MODELS', 'MAMBA'): dict(
        type='MAMBA',
        backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(3,)),
        rpn_head=dict(type='RPNHead', in_channels=256, anchor_sizes=((32, 64),)),
        roi_head=dict(type='StandardRoIHead', num_classes=3,
                      box_head=dict(type='TwoFCBoxHead', in_channels=256, fc_channels=32)),
        instance_memory=dict(capacity=100, num_keys=20, num_heads=4),
        pixel_memory=dict(capacity=100, num_keys=20, num_heads=4)),
    ('MODELS', 'ContextAggregator'): dict(type='ContextAggregator', dim=32, entry_dim=40, bottleneck_dim=16),
    ('MODELS', 'ContextRCNN'): dict(
        type='ContextRCNN',
        backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(3,)),
        rpn_head=dict(type='RPNHead', in_channels=256, anchor_sizes=((32, 64),)),
        roi_head=dict(type='StandardRoIHead', num_classes=3,
                      box_head=dict(type='TwoFCBoxHead', in_channels=256, fc_channels=32)),
        camera_memory=dict(capacity=100, horizon='week'), attention=dict(bottleneck_dim=16, num_keys=8)),
    # PatchCore (issue 9)
    ('MODELS', 'PatchCore'): dict(
        type='PatchCore', backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(2, 3)),
        target_dim=64, coreset_ratio=0.1, reweight_neighbours=9),
    ('MODELS', 'PatchFeatureExtractor'): dict(
        type='PatchFeatureExtractor', backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(2,)),
        target_dim=None),
    ('LOOPS', 'MemoryBankBuildLoop'): dict(type='MemoryBankBuildLoop', runner=None, dataloader=[{}, {}]),
    ('DATASETS', 'MVTecDataset'): dict(type='MVTecDataset', data_root='missing/mvtec', lazy_init=True),
    ('TRANSFORMS', 'LoadAnomalyMask'): dict(type='LoadAnomalyMask'),
    ('TRANSFORMS', 'PackAnomalyInputs'): dict(type='PackAnomalyInputs'),
    ('METRICS', 'AnomalyMetric'): dict(type='AnomalyMetric', pro_max_fpr=0.3),
    # MoCo v2 / MoCHi (issue 10)
    ('MODELS', 'MoCo'): dict(
        type='MoCo', backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(4,), norm_eval=False),
        projection_head=dict(hidden_dim=32, out_dim=8), queue_size=20,
        hard_negative_mixer=dict(type='HardNegativeMixer', num_hardest=4, num_mixed=2, num_query_mixed=2)),
    ('MODELS', 'ProjectionHead'): dict(type='ProjectionHead', in_dim=16, hidden_dim=32, out_dim=8),
    ('MODELS', 'HardNegativeMixer'): dict(type='HardNegativeMixer', num_hardest=16, num_mixed=8, num_query_mixed=4),
    ('DATASETS', 'ObjectCropDataset'): dict(
        type='ObjectCropDataset', ann_file='missing/ann.json', lazy_init=True, positive_max_offset=4),
    ('DATASETS', 'UnlabeledImageFolder'): dict(type='UnlabeledImageFolder', data_root='missing/images', lazy_init=True),
    ('DATASETS', 'VideoFrameDataset'): dict(
        type='VideoFrameDataset', ann_file='missing/ann.json', lazy_init=True, positive_max_offset=4),
    ('TRANSFORMS', 'ContrastiveViews'): dict(type='ContrastiveViews', size=32),
    ('TRANSFORMS', 'CropObject'): dict(type='CropObject'),
    ('TRANSFORMS', 'PackClassificationInputs'): dict(type='PackClassificationInputs'),
    ('TRANSFORMS', 'PackContrastiveInputs'): dict(type='PackContrastiveInputs'),
}

REGISTERED = sorted((registry_name, module_name)
                    for registry_name, registry in ALL_REGISTRIES.items()
                    for module_name in registry.module_dict)


def test_registries_are_vmem_children_of_mmengine():
    assert {'MODELS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'VISUALIZERS',
            'MEMORY_BANKS'} <= set(ALL_REGISTRIES)
    for name, registry in ALL_REGISTRIES.items():
        assert registry.scope == 'vmem', name
    assert ALL_REGISTRIES['MODELS'].parent.scope == 'mmengine'


def test_something_is_registered():
    assert ('MEMORY_BANKS', 'MemoryBank') in REGISTERED


@pytest.mark.parametrize('registry_name,module_name', REGISTERED)
def test_every_registered_module_builds(registry_name, module_name):
    config = EXAMPLE_CONFIGS.get((registry_name, module_name))
    assert config is not None, f'add an example config for {registry_name}.{module_name} to EXAMPLE_CONFIGS'
    with DefaultScope.overwrite_default_scope('vmem'):
        built = ALL_REGISTRIES[registry_name].build(dict(config))
    assert type(built).__name__ == ALL_REGISTRIES[registry_name].get(module_name).__name__


def test_memory_bank_builds_by_name_from_mmengine_root_scope():
    # A model config nested under a Runner builds banks through vmem's registry by type name.
    with DefaultScope.overwrite_default_scope('vmem'):
        bank = ALL_REGISTRIES['MEMORY_BANKS'].build(dict(type='MemoryBank', capacity=3, dim=2, write_policy='FIFO'))
    assert bank.capacity == 3

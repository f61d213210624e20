"""Classification checkpoints users have (torchvision ImageNet files, timm .pth / .safetensors)
load into TimmBackbone, and give the features of the library that wrote them."""
import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from vmem.models import TimmBackbone
from vmem.models.backbones.pretrained_keys import timm_state_dict

RESNET_STAGES = ((1, 2, 3, 4), ['layer1', 'layer2', 'layer3', 'layer4'])
# torchvision builder: timm name, timm feature indices, the torchvision modules that output them
FAMILIES = {
    'resnet18': ('resnet18', *RESNET_STAGES),
    'resnet50': ('resnet50', *RESNET_STAGES),
    'resnet101': ('resnet101', *RESNET_STAGES),
    'wide_resnet50_2': ('wide_resnet50_2', *RESNET_STAGES),
    'mobilenet_v2': ('mobilenetv2_100', (0, 1, 2, 3, 4),
                     ['features.1', 'features.3', 'features.6', 'features.13', 'features.17']),
    'convnext_tiny': ('convnext_tiny', (0, 1, 2, 3), ['features.1', 'features.3', 'features.5', 'features.7']),
}


def randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random values everywhere, BN statistics and ConvNeXt's layer scale included, so a
    wrongly mapped tensor cannot hide behind an identity-like initialisation."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            values = torch.rand(tensor.shape, generator=generator) if name.endswith('running_var') else \
                torch.randn(tensor.shape, generator=generator) * (0.5 if 'layer_scale' in name else 0.1)
            tensor.copy_(values + (0.5 if name.endswith('running_var') else 0.0))
    return model.eval()


def torchvision_features(model: torch.nn.Module, modules, images):
    outputs = {}
    hooks = [model.get_submodule(name).register_forward_hook(
        lambda module, args, output, name=name: outputs.__setitem__(name, output)) for name in modules]
    with torch.no_grad():
        model(images)
    for hook in hooks:
        hook.remove()
    return [outputs[name] for name in modules]


@pytest.mark.parametrize('builder', sorted(FAMILIES))
def test_a_torchvision_file_gives_torchvision_features(builder, tmp_path):
    timm_name, out_indices, modules = FAMILIES[builder]
    reference = randomised(getattr(torchvision.models, builder)(weights=None), seed=len(builder))
    path = tmp_path / f'{builder}.pth'
    torch.save(reference.state_dict(), path)  # as torchvision ships it: a plain state dict, head included
    backbone = TimmBackbone(model_name=timm_name, out_indices=out_indices,
                            init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    backbone.init_weights()
    backbone.eval()
    images = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    expected = torchvision_features(reference, modules, images)
    with torch.no_grad():
        features = backbone(images)
    assert len(features) == len(expected)
    for ours, theirs in zip(features, expected):
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_a_timm_safetensors_file_loads(tmp_path):
    reference = randomised(timm.create_model('convnext_tiny'), seed=3)
    path = tmp_path / 'convnext_tiny.safetensors'
    save_file(reference.state_dict(), str(path))
    backbone = TimmBackbone(model_name='convnext_tiny', out_indices=(3,),
                            init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    backbone.init_weights()
    backbone.eval()
    images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = reference.forward_intermediates(images, indices=[3], intermediates_only=True)[0]
        torch.testing.assert_close(backbone(images)[0], expected, atol=1e-5, rtol=1e-5)


def test_strict_by_default_and_a_one_line_report_otherwise(tmp_path):
    path = tmp_path / 'mobilenet_v2.pth'
    state = torchvision.models.mobilenet_v2(weights=None).state_dict()
    del state['features.5.conv.1.0.weight']  # one dw conv short
    torch.save(state, path)
    strict = TimmBackbone(model_name='mobilenetv2_100', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match=r'mobilenet_v2\.pth does not match:\n.*1 missing.*blocks\.2\.1\.conv_dw'):
        strict.init_weights()
    lenient = TimmBackbone(model_name='mobilenetv2_100',
                           init_cfg=dict(type='Pretrained', checkpoint=str(path), strict=False))
    mismatch = lenient.load_pretrained(str(path), strict=False)
    assert mismatch.missing == ['blocks.2.1.conv_dw.weight']
    assert torch.equal(lenient.body.blocks[3][0].conv_pw.weight, state['features.7.conv.0.0.weight'])


def test_a_torchvision_file_of_another_family_names_the_keys(tmp_path):
    with pytest.raises(ValueError, match='mobilenetv2_100.*features.1.conv.9.weight'):
        timm_state_dict({'features.1.conv.9.weight': torch.zeros(1)}, model_name='mobilenetv2_100')
    with pytest.raises(ValueError, match="cannot be renamed for timm 'efficientnet_b0'"):
        timm_state_dict({'features.0.0.weight': torch.zeros(1)}, model_name='efficientnet_b0')

import pytest
import torch
import torchvision
from torch import nn

from vmem.models import FPN, ChannelMapper, TimmBackbone


def test_dc5_keeps_stride_16_and_dilates_every_3x3_conv_of_the_last_stage():
    backbone = TimmBackbone(model_name='resnet18', out_indices=(1, 2, 3, 4), dilate_last_stage=True)
    assert backbone.strides == (4, 8, 16, 16)
    outputs = backbone(torch.zeros(1, 3, 96, 128))
    assert [tuple(o.shape[-2:]) for o in outputs] == [(24, 32), (12, 16), (6, 8), (6, 8)]
    convs = [m for m in backbone.body.layer4.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert convs and all(m.dilation == (2, 2) and m.stride == (1, 1) for m in convs)
    plain = TimmBackbone(model_name='resnet18', out_indices=(4,))
    assert plain.strides == (32,) and plain(torch.zeros(1, 3, 96, 128))[0].shape[-2:] == (3, 4)


def test_output_stride_8_keeps_the_third_stage_at_stride_8_with_the_same_weights():
    strided = TimmBackbone(model_name='resnet10t', out_indices=(3,))
    dilated = TimmBackbone(model_name='resnet10t', out_indices=(3,), output_stride=8)
    assert dilated.strides == (8,) and dilated(torch.zeros(1, 3, 96, 128))[0].shape[-2:] == (12, 16)
    assert strided(torch.zeros(1, 3, 96, 128))[0].shape[-2:] == (6, 8)
    dilated.load_state_dict(strided.state_dict())  # dilation changes no parameter
    with pytest.raises(ValueError, match='output_stride=16'):
        TimmBackbone(model_name='resnet10t', out_indices=(3,), dilate_last_stage=True, output_stride=8)
    with pytest.raises(ValueError, match='output_stride must be'):
        TimmBackbone(model_name='resnet10t', out_indices=(3,), output_stride=4)


def test_frozen_stages_and_norm_eval():
    backbone = TimmBackbone(model_name='resnet18', out_indices=(4,), frozen_stages=1, norm_eval=True)
    backbone.train()
    assert not backbone.body.conv1.weight.requires_grad
    assert not any(p.requires_grad for p in backbone.body.layer1.parameters())
    assert all(p.requires_grad for p in backbone.body.layer2.parameters())
    assert not backbone.body.layer3[0].bn1.training
    trainable_norms = TimmBackbone(model_name='resnet18', out_indices=(4,), frozen_stages=1, norm_eval=False)
    trainable_norms.train()
    assert trainable_norms.body.layer3[0].bn1.training and not trainable_norms.body.layer1[0].bn1.training
    with pytest.raises(ValueError, match='frozen_stages'):
        TimmBackbone(model_name='resnet18', frozen_stages=7)


def test_pretrained_init_loads_a_local_torchvision_state_dict(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / 'resnet18.pth'
    torch.save({'state_dict': reference.state_dict()}, path)  # classifier 'fc' included, as shipped
    backbone = TimmBackbone(model_name='resnet18', out_indices=(4,),
                            init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    assert not torch.equal(backbone.body.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    backbone.init_weights()
    assert torch.equal(backbone.body.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    # stages after out_indices are skipped; a 'model' wrapper is unwrapped
    torch.save({'model': reference.state_dict()}, path)
    truncated = TimmBackbone(model_name='resnet18', out_indices=(3,),
                             init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    truncated.init_weights()
    assert torch.equal(truncated.body.layer1[0].conv1.weight, reference.layer1[0].conv1.weight)


def test_pretrained_init_reports_mismatched_keys(tmp_path):
    path = tmp_path / 'resnet34.pth'
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    backbone = TimmBackbone(model_name='resnet18', out_indices=(4,),
                            init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match=r'resnet34\.pth.*\n.*unexpected.*layer1\.2'):
        backbone.init_weights()
    missing = TimmBackbone(model_name='resnet18', init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'no.pth')))
    with pytest.raises(FileNotFoundError, match='no.pth'):
        missing.init_weights()


def test_fpn_neck_over_backbone_levels():
    backbone = TimmBackbone(model_name='resnet18', out_indices=(1, 2, 3, 4))
    neck = FPN(in_channels=backbone.out_channels, out_channels=32)
    outputs = neck(backbone(torch.zeros(1, 3, 64, 64)))
    assert [tuple(o.shape[1:]) for o in outputs] == [(32, 16, 16), (32, 8, 8), (32, 4, 4), (32, 2, 2), (32, 1, 1)]
    with pytest.raises(ValueError, match='4 levels'):
        neck(outputs[:2])


def test_channel_mapper_reduces_dc5_channels():
    backbone = TimmBackbone(model_name='resnet18', out_indices=(4,), dilate_last_stage=True)
    neck = ChannelMapper(in_channels=backbone.out_channels, out_channels=24)
    (mapped,) = neck(backbone(torch.zeros(1, 3, 64, 64)))
    assert mapped.shape == (1, 24, 4, 4) and mapped.min() >= 0  # ReLU after the conv
    with pytest.raises(ValueError, match='1 levels'):
        neck([mapped, mapped])


def test_cpu_inference_in_channels_last_gives_the_same_nchw_features():
    torch.manual_seed(0)
    fast = TimmBackbone(model_name='resnet10t', out_indices=(2, 3)).eval()
    plain = TimmBackbone(model_name='resnet10t', out_indices=(2, 3), cpu_channels_last=False).eval()
    plain.load_state_dict(fast.state_dict())
    images = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(fast(images), plain(images)):
            assert a.is_contiguous()  # NCHW for the neck and heads
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)

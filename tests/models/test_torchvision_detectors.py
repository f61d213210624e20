"""torchvision's COCO Faster R-CNNs, converted, detect in vmem exactly as in torchvision.

No COCO weights can be downloaded here, so torchvision's own models get random weights
(BatchNorm statistics included, so that a misplaced tensor shows); the converted file then
has to give the same boxes, scores and labels on a real photograph after NMS.
"""
import importlib.util
from pathlib import Path

import pytest
import torch
import torchvision
from mmengine.config import Config
from torchvision.ops.misc import FrozenBatchNorm2d

from vmem.apis import VideoInferencer, init_model
from vmem.models.detectors.torchvision_keys import (COCO_CATEGORY_IDS, COCO_CLASSES, NA_CATEGORY_IDS,
                                                    convert_state_dict, torchvision_to_vmem)
from vmem.video import read_image

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('torchvision_to_vmem', ROOT / 'tools' / 'model_converters' / 'torchvision_to_vmem.py')
converter = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(converter)
ARCH_CONFIGS = {arch: str(ROOT / config) for arch, config in converter.ARCH_CONFIGS.items()}

MIN_SIZE, MAX_SIZE = 512, 512  # the photo at its own 512 x 512 (COCO: 800 / 1333), fast on CPU


def randomised_detector(arch: str, image: torch.Tensor) -> torch.nn.Module:
    """torchvision's model with seeded random weights that keep activations near unit scale:
    each BatchNorm's statistics are those of its input on ``image`` (perturbed), so that
    float rounding is not amplified layer after layer and the comparison can be tight."""
    torch.manual_seed(0)
    model = getattr(torchvision.models.detection, arch)(
        weights=None, weights_backbone=None, min_size=MIN_SIZE, max_size=MAX_SIZE).eval()
    generator = torch.Generator().manual_seed(0)

    def calibrate(norm, args):
        statistics = args[0].transpose(0, 1).flatten(1)
        channels = statistics.shape[0]
        norm.running_mean.copy_(statistics.mean(1) + 0.1 * torch.randn(channels, generator=generator))
        norm.running_var.copy_(statistics.var(1) * (0.8 + 0.4 * torch.rand(channels, generator=generator)))
        norm.weight.copy_(0.5 + torch.rand(channels, generator=generator))
        norm.bias.copy_(0.1 * torch.randn(channels, generator=generator))

    norms = [module for module in model.modules() if isinstance(module, (FrozenBatchNorm2d, torch.nn.BatchNorm2d))]
    hooks = [norm.register_forward_pre_hook(calibrate) for norm in norms]
    with torch.no_grad():
        model([image])
        for hook in hooks:
            hook.remove()
        # class logits of unit spread, so that detections pass the 0.05 threshold and rank clearly
        box_features = []
        hook = model.roi_heads.box_head.register_forward_hook(lambda m, a, out: box_features.append(out))
        model([image])
        hook.remove()
        scale = box_features[0].norm(dim=1).mean()
        predictor = model.roi_heads.box_predictor.cls_score
        predictor.weight.copy_(torch.randn(predictor.weight.shape, generator=generator) * 2 / scale)
        # a COCO-trained predictor never scores the 10 unused ('N/A') ids, which vmem does not
        # report; random weights would, so they are switched off as training does
        predictor.weight[list(NA_CATEGORY_IDS)] = 0
        predictor.bias[list(NA_CATEGORY_IDS)] = -30
    return model


def vmem_config(arch: str) -> Config:
    cfg = Config.fromfile(ARCH_CONFIGS[arch])
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'Resize':
            step['scale'] = (MAX_SIZE, MIN_SIZE)
    return cfg


def vmem_input(model, image) -> torch.Tensor:
    """The normalised, unpadded input tensor vmem's test pipeline and preprocessor make."""
    inferencer = VideoInferencer(model=model)
    results = dict(img=image, img_id=0, video_id=0, frame_id=0)
    for step in inferencer._pipeline:
        results = step(results)
    batch = model.data_preprocessor({'inputs': [results['inputs']], 'data_samples': [results['data_samples']]}, False)
    height, width = batch['data_samples'][0].metainfo['img_shape']
    return batch['inputs'][0, :, :height, :width]


def test_the_coco_configs_prepare_images_as_torchvision(real_asset):
    """At COCO's test size (short side 800, long side <= 1333) vmem's resize and
    normalisation give torchvision's GeneralizedRCNNTransform input."""
    image = read_image(str(real_asset('coffee.png')))  # 400 x 600: resized to 800 x 1200
    reference = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    expected = reference.transform([torch.from_numpy(image).permute(2, 0, 1).float() / 255])[0]
    ours = vmem_input(init_model(ARCH_CONFIGS['fasterrcnn_resnet50_fpn']), image)
    assert tuple(ours.shape[-2:]) == expected.image_sizes[0] == (800, 1200)
    torch.testing.assert_close(ours, expected.tensors[0, :, :800, :1200], atol=1e-4, rtol=0)


@pytest.mark.parametrize('arch', ['fasterrcnn_resnet50_fpn', 'fasterrcnn_resnet50_fpn_v2'])
def test_converted_weights_detect_as_torchvision(arch, real_asset, tmp_path):
    image = read_image(str(real_asset('astronaut.png')))  # RGB uint8, 512 x 512
    pixels = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    reference = randomised_detector(arch, pixels)
    source, converted = tmp_path / f'{arch}.pth', tmp_path / 'vmem.pth'
    torch.save(reference.state_dict(), source)
    assert converter.main([str(source), str(converted), '--arch', arch]) == 0
    # channels-last CPU inference (the default) changes float rounding only, and random
    # weights amplify rounding, so both networks get the same input and layout here
    cfg = vmem_config(arch)
    cfg.model.backbone.cpu_channels_last = False
    model = init_model(cfg, str(converted))
    assert model.dataset_meta['classes'] == COCO_CLASSES
    ours = VideoInferencer(model=model).predict_frame(image, video_id=0, frame_id=0)

    reference.transform.image_mean, reference.transform.image_std = [0.0] * 3, [1.0] * 3  # input: vmem's
    with torch.no_grad():
        expected = reference([vmem_input(model, image)])[0]
    assert 10 <= len(expected['boxes']) <= 100, 'the random weights should give a few detections'
    assert len(ours.bboxes) == len(expected['boxes'])
    torch.testing.assert_close(ours.scores, expected['scores'], atol=1e-4, rtol=0)
    torch.testing.assert_close(ours.bboxes, expected['boxes'], atol=1e-4, rtol=0)
    category_ids = torch.tensor(COCO_CATEGORY_IDS)[ours.labels]  # vmem label -> COCO id = torchvision label
    assert torch.equal(category_ids, expected['labels'])


def test_a_fine_tuned_predictor_or_an_unknown_key_is_refused():
    state = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None,
                                                                 num_classes=3).state_dict()
    with pytest.raises(ValueError, match='cls_score.weight has 3 rows.*not a COCO detector'):
        convert_state_dict(state, arch='fasterrcnn_resnet50_fpn')
    with pytest.raises(ValueError, match='1 keys .* not part of .*: roi_heads.mask_head.weight'):
        convert_state_dict({'roi_heads.mask_head.weight': torch.zeros(1)}, arch='fasterrcnn_resnet50_fpn')


def test_the_wrong_config_lists_what_does_not_fit(tmp_path):
    state = torchvision.models.detection.fasterrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None).state_dict()
    model = init_model(ARCH_CONFIGS['fasterrcnn_resnet50_fpn'])
    with pytest.raises(ValueError, match='do not fit the model'):
        torchvision_to_vmem(state, arch='fasterrcnn_resnet50_fpn_v2', model=model)


@pytest.mark.parametrize('config, fresh_key', [
    ('mamba/mamba_ins_r50_fpn_imagenetvid_from_coco.py', 'roi_head.box_head.aggregators.0'),
    ('context_rcnn/context_rcnn_r50_fpn_cct_from_coco.py', 'attention')])
def test_memory_models_start_from_converted_coco_weights(config, fresh_key, tmp_path, capsys):
    """load_from (non-strict, as tools/train.py uses it): the detector's weights arrive; the
    memory modules and the predictor for the new classes do not, and the log names them."""
    from mmengine.runner.checkpoint import load_checkpoint

    state = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict()
    path = tmp_path / 'faster_rcnn_r50_fpn_coco.pth'
    torch.save(torchvision_to_vmem(state, arch='fasterrcnn_resnet50_fpn'), path)
    model = init_model(str(ROOT / 'configs' / config), cfg_options={'model.memory_file': None}
                       if 'context_rcnn' in config else None)
    load_checkpoint(model, str(path), map_location='cpu', strict=False, logger=None)
    log = capsys.readouterr().out
    missing = log.split('missing keys in source state_dict:')[1].split('\n')[0]
    assert fresh_key in missing
    assert 'size mismatch for roi_head.fc_cls.weight' in log
    assert torch.equal(model.backbone.body.layer3[2].conv2.weight, state['backbone.body.layer3.2.conv2.weight'])
    assert torch.equal(model.roi_head.box_head.fc1.weight, state['roi_heads.box_head.fc6.weight'])

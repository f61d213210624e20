"""FasterRCNN on SynthVID batches from the shipped data config, ResNet-18 on CPU."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper

from vmem.models import FasterRCNN
from vmem.models.detectors import to_original_image
from vmem.registry import MODELS
from vmem.structures import DetDataSample

from detector_setup import tiny_detector_config


def build(**overrides) -> FasterRCNN:
    torch.manual_seed(0)
    return MODELS.build(tiny_detector_config(**overrides))


def loss_on(model, batch, seed=1):
    torch.manual_seed(seed)  # fixes the proposal sampling, so losses are comparable
    return model(**model.data_preprocessor(copy.deepcopy(batch), True), mode='loss')


def test_loss_mode_gives_finite_named_losses_that_backprop(train_batch):
    model = build()
    model.train()
    losses = loss_on(model, train_batch)
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'} <= set(losses)
    assert all(torch.isfinite(value) for value in losses.values())
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    for module in (model.roi_head.fc_cls, model.roi_head.box_head.fc1, model.rpn_head, model.backbone.body.layer3):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters()), module
    assert model.backbone.body.conv1.weight.grad is None  # frozen stem


def test_a_few_sgd_steps_overfit_one_batch(train_batch):
    model = build()
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optim_wrapper = OptimWrapper(torch.optim.SGD(parameters, lr=0.02, momentum=0.9))
    with torch.no_grad():
        before = loss_on(model, train_batch)
    for _ in range(10):
        model.train_step(copy.deepcopy(train_batch), optim_wrapper)
    with torch.no_grad():
        after = loss_on(model, train_batch)
    total = lambda losses: sum(v.item() for k, v in losses.items() if k.startswith('loss'))  # noqa: E731
    assert total(after) < 0.85 * total(before)
    assert after['loss_cls'] < before['loss_cls'] and after['loss_rpn_cls'] < before['loss_rpn_cls']


def test_predictions_are_in_original_image_coordinates(val_batch):
    model = build()
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(val_batch))
        samples = model(**data, mode='predict')
        # the same forward pass by hand, stopping in input (2x resized) coordinates
        features = model.extract_feat(data['inputs'])
        sizes = [s.img_shape for s in samples]
        proposals, _ = model.rpn_head(features, data['inputs'], sizes)
        raw = model.roi_head.predict(features, proposals, tuple(data['inputs'].shape[-2:]), sizes)
    assert len(samples) == 2 and all(isinstance(s, DetDataSample) for s in samples)
    for sample, (boxes, scores, labels) in zip(samples, raw):
        assert sample.scale_factor == pytest.approx((2.0, 2.0)) and sample.ori_shape == (96, 128)
        predicted = sample.pred_instances
        assert len(predicted.bboxes) > 0
        assert torch.allclose(predicted.bboxes, boxes / 2)
        assert predicted.bboxes[:, 2].max() <= 128 and predicted.bboxes[:, 3].max() <= 96
        assert boxes[:, 2].max() > 128 or boxes[:, 3].max() > 96  # would be out of the original image
        assert predicted.labels.dtype == torch.int64 and predicted.labels.max() < 8
        assert torch.equal(predicted.scores, scores) and (scores[:-1] >= scores[1:]).all()


def test_to_original_image_undoes_flip_then_resize():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 60.0]])
    meta = dict(img_shape=(100, 200), ori_shape=(50, 100), scale_factor=(2.0, 2.0), flip=True,
                flip_direction='horizontal')
    assert to_original_image(boxes, meta).tolist() == [[75.0, 10.0, 95.0, 30.0]]
    meta['flip_direction'] = 'diagonal'
    assert to_original_image(boxes, meta).tolist() == [[75.0, 20.0, 95.0, 40.0]]
    meta['flip_direction'] = 'sideways'
    with pytest.raises(ValueError, match='sideways'):
        to_original_image(boxes, meta)


def test_clip_samples_use_the_key_frame_in_predict_and_tensor_modes(train_batch):
    model = build()
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(train_batch))
        assert data['ref_inputs'].shape[1] == 2
        samples = model(**data, mode='predict')
        outputs = model(**data, mode='tensor')
    assert [s.frame_id for s in samples] == [clip.key_frames[0].frame_id for clip in data['data_samples']]
    assert all('pred_instances' in s for s in samples)
    num_rois = sum(len(p) for p in outputs['proposals'])
    assert outputs['cls_scores'].shape == (num_rois, 9) and outputs['bbox_deltas'].shape == (num_rois, 32)
    assert outputs['features'][0].shape[1:] == (256, 6, 8)  # stride 16 on 96x128


def test_fpn_variant_trains_and_predicts(train_batch):
    model = build(
        backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(1, 2, 3, 4)),
        neck=dict(type='FPN', in_channels=(64, 128, 256, 512), out_channels=32),
        rpn_head=dict(type='RPNHead', in_channels=32, anchor_sizes=((8,), (16,), (32,), (64,), (128,)),
                      aspect_ratios=((0.5, 1.0, 2.0),), post_nms_top_n_train=100, post_nms_top_n_test=50),
        roi_head=dict(type='StandardRoIHead', num_classes=8, featmap_names=('0', '1', '2', '3'),
                      batch_size_per_image=64, box_head=dict(type='TwoFCBoxHead', in_channels=32, fc_channels=32)))
    model.train()
    losses = loss_on(model, train_batch)
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        samples = model.test_step(copy.deepcopy(train_batch))
    assert all('pred_instances' in s for s in samples)


def test_bad_calls_are_explained(train_batch):
    model = build()
    data = model.data_preprocessor(copy.deepcopy(train_batch), True)
    with pytest.raises(ValueError, match="'train'"):
        model(**data, mode='train')
    with pytest.raises(TypeError, match='DetDataPreprocessor'):
        model(inputs=[torch.zeros(3, 8, 8)], mode='predict')
    model.train()
    bad = copy.deepcopy(data)
    bad['data_samples'][0].key_frames[0].gt_instances.labels[:] = 8
    with pytest.raises(ValueError, match='outside 0..7'):
        model(**bad, mode='loss')
